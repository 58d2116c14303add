/**
 * Runs the smoke scenario (test/runtimes/smoke.ts) in each runtime of the matrix (docs/RUNTIMES.md):
 *
 *   node                  tsx, the source as Node runs it
 *   bun                   the npm package `bun`, running the TypeScript source
 *   deno                  the npm package `deno`, with only --allow-net to the homeserver
 *   workerd               the npm package `workerd`, an esbuild bundle as a module worker
 *   workerd+nodejs_compat the same with the nodejs_compat flag
 *   chromium              Debian's chromium (installed here when missing) driven by playwright-core,
 *                         a page served on loopback
 *
 * Every runtime comes from the project's own dev dependencies or apt: nothing is assumed installed.
 * Each run returns the scenario's step results; a runtime that cannot even start returns one failed
 * "start" step with its output.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { extname, join } from "node:path";
import { build } from "esbuild";
import { chromium, type Page } from "playwright-core";
import { freePort } from "../../src/homeserver/process.js";
import { projectRoot } from "../../src/homeserver/venv.js";
import type { SmokeConfig, StepResult } from "../runtimes/smoke.js";

export const RUNTIMES = ["node", "bun", "deno", "workerd", "workerd+nodejs_compat", "chromium"] as const;
export type Runtime = (typeof RUNTIMES)[number];

const ROOT = projectRoot();
const BIN = (name: string) => join(ROOT, "node_modules", ".bin", name);
const OLM_WASM = join(ROOT, "node_modules", "@matrix-org", "olm", "olm.wasm");
/** What one runtime may take for the whole scenario (its own steps are bounded at 60 s each). */
const RUN_TIMEOUT_MS = 240_000;

interface Output {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run a command to its end (bounded), feeding `input` on stdin. */
function exec(command: string, args: string[], input: string, env: NodeJS.ProcessEnv = process.env): Promise<Output> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: ROOT, env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), RUN_TIMEOUT_MS);
    child.on("error", (e) => (stderr += String(e)));
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

function startFailure(what: string, detail: string): StepResult[] {
  return [{ step: "start", ok: false, error: `${what}: ${detail.slice(-3000)}` }];
}

/** The scenario's JSON line from a program's stdout, or a "start" failure with its output. */
function resultsFrom(name: string, out: Output): StepResult[] {
  const line = out.stdout.trim().split("\n").at(-1) ?? "";
  try {
    return JSON.parse(line) as StepResult[];
  } catch {
    return startFailure(`${name} exited with ${out.code}`, `${out.stdout}\n${out.stderr}`);
  }
}

async function runNode(config: SmokeConfig): Promise<StepResult[]> {
  return resultsFrom("node", await exec(process.execPath, ["--import", "tsx", "test/runtimes/smoke-cli.ts"], JSON.stringify(config)));
}

async function runBun(config: SmokeConfig): Promise<StepResult[]> {
  return resultsFrom("bun", await exec(BIN("bun"), ["test/runtimes/smoke-cli.ts"], JSON.stringify(config)));
}

/** Deno with network permission for the homeserver only: no files, no environment. The WASM comes as bytes in the config. */
async function runDeno(config: SmokeConfig): Promise<StepResult[]> {
  const host = new URL(config.homeserver).host;
  const input = JSON.stringify({ ...config, olmWasmBase64: readFileSync(OLM_WASM).toString("base64") });
  const args = ["run", "--no-prompt", "--no-lock", "--sloppy-imports", `--allow-net=${host}`, "test/runtimes/smoke-cli.ts"];
  return resultsFrom("deno", await exec(BIN("deno"), args, input, { ...process.env, DENO_NO_UPDATE_CHECK: "1" }));
}

/** One esbuild bundle for the Workers and browser runs: olm's Node-only requires stay out (olm takes its browser path there). */
async function bundle(entry: string, outfile: string, conditions: string[]): Promise<void> {
  await build({
    entryPoints: [join(ROOT, entry)],
    outfile,
    bundle: true,
    format: "esm",
    platform: "browser",
    conditions,
    target: "es2022",
    external: ["fs", "path", "crypto", "./olm.wasm"],
    logLevel: "error",
  });
}

async function runWorkerd(config: SmokeConfig, nodejsCompat: boolean): Promise<StepResult[]> {
  try {
    return (await inWorkerd(config, nodejsCompat, ["/"]))[0] as StepResult[];
  } catch (e) {
    return startFailure("workerd", String(e));
  }
}

function capnp(port: number, nodejsCompat: boolean): string {
  const flags = nodejsCompat ? `["nodejs_compat"]` : "[]";
  return `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .smokeWorker),
    (name = "loopback", network = (allow = ["local"])),
  ],
  sockets = [(name = "http", address = "127.0.0.1:${port}", http = (), service = "main")],
);
const smokeWorker :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "worker.js"),
    (name = "olm.wasm", wasm = embed "olm.wasm"),
  ],
  compatibilityDate = "2025-09-01",
  compatibilityFlags = ${flags},
  globalOutbound = "loopback",
);
`;
}

async function waitForPort(url: string, child: { exitCode: number | null }, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && child.exitCode === null) {
    try {
      await fetch(url, { method: "GET" });
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`nothing listens on ${url}`);
}

/** POST `config` to each path of the smoke worker in turn (one workerd process), returning each JSON answer. */
export async function inWorkerd(config: SmokeConfig, nodejsCompat: boolean, paths: string[]): Promise<unknown[]> {
  const dir = mkdtempSync(join(tmpdir(), "mxdb-workerd-"));
  let stderr = "";
  const port = await freePort();
  let child: ChildProcess | undefined;
  try {
    await bundle("test/runtimes/worker.ts", join(dir, "worker.js"), ["workerd", "worker", "browser"]);
    copyFileSync(OLM_WASM, join(dir, "olm.wasm"));
    writeFileSync(join(dir, "config.capnp"), capnp(port, nodejsCompat));
    child = spawn(BIN("workerd"), ["serve", join(dir, "config.capnp"), "--verbose"], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout!.on("data", (d: Buffer) => (stderr += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const url = `http://127.0.0.1:${port}`;
    await waitForPort(`${url}/`, child);
    const answers: unknown[] = [];
    for (const path of paths) {
      const res = await fetch(`${url}${path}`, { method: "POST", body: JSON.stringify(config), signal: AbortSignal.timeout(RUN_TIMEOUT_MS) });
      const text = await res.text();
      try {
        answers.push(JSON.parse(text));
      } catch {
        throw new Error(`workerd answered ${res.status} to ${path}: ${text}`);
      }
    }
    return answers;
  } catch (e) {
    throw new Error(`workerd: ${String(e)}\n${stderr}`);
  } finally {
    child?.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
}

const CHROMIUM = "/usr/bin/chromium";

/** Debian's chromium, installed with apt when missing (the machines are Debian; tests install what they need). */
export async function ensureChromium(): Promise<string> {
  if (existsSync(CHROMIUM)) return CHROMIUM;
  const sudo = process.getuid?.() === 0 ? [] : ["sudo", "-n"];
  const apt = async (...args: string[]) => {
    const [cmd, ...rest] = [...sudo, "apt-get", ...args];
    return exec(cmd!, rest, "", { ...process.env, DEBIAN_FRONTEND: "noninteractive" });
  };
  let out = await apt("install", "-y", "--no-install-recommends", "chromium");
  if (out.code !== 0) {
    await apt("update");
    out = await apt("install", "-y", "--no-install-recommends", "chromium");
  }
  if (!existsSync(CHROMIUM)) throw new Error(`could not install chromium with apt-get: ${out.stderr.slice(-2000)}`);
  return CHROMIUM;
}

const TYPES: Record<string, string> = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm" };

function serve(dir: string, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    const name = new URL(req.url ?? "/", "http://x").pathname.slice(1) || "index.html";
    const path = join(dir, name);
    if (name.includes("..") || !existsSync(path)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": TYPES[extname(path)] ?? "application/octet-stream" }).end(readFileSync(path));
  });
  return new Promise((resolve) => server.listen(port, "127.0.0.1", () => resolve(server)));
}

/**
 * Bundle `entry` (a page script), serve it with olm.wasm on loopback, open it in headless Chromium
 * and hand the page to `use`. The browser and the server are gone when this returns.
 */
export async function inChromium<T>(entry: string, use: (page: Page) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), "mxdb-page-"));
  let server: Server | undefined;
  const browser = await chromium.launch({ executablePath: await ensureChromium(), args: ["--no-sandbox"], headless: true });
  const log: string[] = [];
  try {
    await bundle(entry, join(dir, "page.js"), ["browser"]);
    copyFileSync(OLM_WASM, join(dir, "olm.wasm"));
    writeFileSync(join(dir, "index.html"), `<!doctype html><meta charset="utf-8"><title>mxdb</title><script type="module" src="/page.js"></script>`);
    const port = await freePort();
    server = await serve(dir, port);
    const page = await browser.newPage();
    page.on("console", (m) => log.push(m.text()));
    page.on("pageerror", (e) => log.push(String(e)));
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.waitForFunction(() => "mxdbReady" in globalThis, undefined, { timeout: 30_000 });
    return await use(page);
  } catch (e) {
    throw new Error(`${String(e)}\n${log.join("\n")}`);
  } finally {
    await browser.close();
    server?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function runChromium(config: SmokeConfig): Promise<StepResult[]> {
  try {
    return await inChromium("test/runtimes/page.ts", (page) => page.evaluate((c) => (globalThis as unknown as { runSmoke: (c: unknown) => Promise<unknown> }).runSmoke(c), config) as Promise<StepResult[]>);
  } catch (e) {
    return startFailure("chromium", String(e));
  }
}

export function runSmoke(runtime: Runtime, config: SmokeConfig): Promise<StepResult[]> {
  switch (runtime) {
    case "node":
      return runNode(config);
    case "bun":
      return runBun(config);
    case "deno":
      return runDeno(config);
    case "workerd":
      return runWorkerd(config, false);
    case "workerd+nodejs_compat":
      return runWorkerd(config, true);
    case "chromium":
      return runChromium(config);
  }
}
