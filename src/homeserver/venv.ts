/**
 * Project-local Python virtualenvs (git-ignored, under `<root>/.venv/<name>`), for the test
 * homeserver (Synapse) and the interop peers (opsdroid, matrix-nio). A venv is built once with
 * `python3 -m venv` + pip, reused while its pinned package list is unchanged, and rebuilt when the
 * pins change. A mkdir lock keeps two processes (parallel test files, CI steps) from installing at once.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

export interface VenvOptions {
  /** Directory name under the venv root, e.g. "synapse". */
  name: string;
  /** Exact pip requirement specs, e.g. ["matrix-synapse==1.163.2"]. */
  packages: string[];
  /** Progress lines for a person watching (install steps, pip's output summarised). */
  onProgress?: (line: string) => void;
}

export interface Venv {
  dir: string;
  python: string;
  /** Path of an executable installed in the venv (`bin("pip")`). */
  bin(name: string): string;
}

const MARKER = ".mxdb-packages.json";
const LOCK_WAIT_MS = 15 * 60_000;

/** The directory holding mxdb's package.json, found by walking up from this file. */
export function projectRoot(from = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const pkg = join(dir, "package.json");
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, "utf8")) as { name?: unknown }).name === "mxdb") return dir;
      } catch {
        // not ours; keep walking
      }
    }
    if (dirname(dir) === dir) throw new Error(`mxdb: no package.json named "mxdb" above ${from}`);
  }
}

/** Where venvs live: $MXDB_VENV_DIR, else `<root>/.venv`. */
export function venvRoot(): string {
  return process.env.MXDB_VENV_DIR ?? join(projectRoot(), ".venv");
}

function venvOf(dir: string): Venv {
  const bin = (name: string) => join(dir, "bin", name);
  return { dir, python: bin("python"), bin };
}

function markerMatches(dir: string, packages: string[]): boolean {
  try {
    const marker = JSON.parse(readFileSync(join(dir, MARKER), "utf8")) as { packages?: unknown };
    return JSON.stringify(marker.packages) === JSON.stringify(packages) && existsSync(join(dir, "bin", "python"));
  } catch {
    return false;
  }
}

/** The pinned packages of a pip requirements file (comments and blank lines dropped): one source for CI's `pip install -r` and ensureVenv. */
export function readRequirements(path: string): string[] {
  return readFileSync(path, "utf8")
    .split("\n")
    .map((line) => line.replace(/#.*/, "").trim())
    .filter((line) => line !== "");
}

/** Create or reuse the venv `name` with exactly `packages` installed. */
export async function ensureVenv(options: VenvOptions): Promise<Venv> {
  const root = venvRoot();
  const dir = join(root, options.name);
  const progress = options.onProgress ?? (() => {});
  if (markerMatches(dir, options.packages)) return venvOf(dir);

  mkdirSync(root, { recursive: true });
  const release = await acquireLock(join(root, `${options.name}.lock`), progress);
  try {
    // Another process may have finished the install while we waited for the lock.
    if (markerMatches(dir, options.packages)) return venvOf(dir);
    const rel = relative(process.cwd(), dir);
    const shown = rel && !rel.startsWith("..") ? rel : dir;
    rmSync(dir, { recursive: true, force: true });
    const python = process.env.MXDB_PYTHON ?? "python3";
    progress(`creating virtualenv ${shown} (${python} -m venv) ...`);
    await run(python, ["-m", "venv", dir], () => {});
    progress(`installing ${options.packages.join(" ")} into ${shown} ...`);
    const started = Date.now();
    const summary = pipSummariser(progress);
    await run(join(dir, "bin", "pip"), ["install", "--disable-pip-version-check", "--no-input", "--progress-bar", "off", ...options.packages], summary);
    progress(`installed ${options.packages.join(" ")} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    writeFileSync(join(dir, MARKER), `${JSON.stringify({ packages: options.packages, installedAt: new Date().toISOString() }, null, 2)}\n`);
    return venvOf(dir);
  } finally {
    release();
  }
}

/**
 * Add `extras` (exact pins) to a venv made by ensureVenv, once: the marker lists them beside the base
 * packages, so a second call is a no-op and a rebuilt venv (new base pins) gets them again on demand.
 * Installed on top, never rebuilding: the base venv may be in use by another process meanwhile.
 */
export async function ensureVenvExtras(options: VenvOptions & { extras: string[] }): Promise<Venv> {
  const venv = await ensureVenv(options);
  const has = () => {
    try {
      const marker = JSON.parse(readFileSync(join(venv.dir, MARKER), "utf8")) as { extras?: unknown };
      return Array.isArray(marker.extras) && options.extras.every((e) => (marker.extras as unknown[]).includes(e));
    } catch {
      return false;
    }
  };
  if (has()) return venv;
  const progress = options.onProgress ?? (() => {});
  const release = await acquireLock(join(venvRoot(), `${options.name}.lock`), progress);
  try {
    if (has()) return venv;
    progress(`installing ${options.extras.join(" ")} into ${venv.dir} ...`);
    const started = Date.now();
    await run(venv.bin("pip"), ["install", "--disable-pip-version-check", "--no-input", "--progress-bar", "off", ...options.packages, ...options.extras], pipSummariser(progress));
    progress(`installed ${options.extras.join(" ")} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const marker = JSON.parse(readFileSync(join(venv.dir, MARKER), "utf8")) as Record<string, unknown>;
    const before = Array.isArray(marker.extras) ? (marker.extras as string[]) : [];
    writeFileSync(join(venv.dir, MARKER), `${JSON.stringify({ ...marker, extras: [...new Set([...before, ...options.extras])] }, null, 2)}\n`);
    return venv;
  } finally {
    release();
  }
}

/** Turn pip's chatty output into a few lines: a count of collected packages, then the result. */
function pipSummariser(progress: (line: string) => void): (line: string) => void {
  let collected = 0;
  return (line) => {
    if (line.startsWith("Collecting ")) {
      collected++;
      if (collected % 20 === 0) progress(`  pip: ${collected} packages resolved ...`);
    } else if (line.startsWith("Installing collected packages")) {
      progress(`  pip: installing ${collected} packages ...`);
    } else if (/^(ERROR|WARNING):/.test(line)) {
      progress(`  pip: ${line}`);
    }
  };
}

/** Run a command; each output line goes to `onLine`; rejects with the output's tail on failure. */
export function run(command: string, args: string[], onLine: (line: string) => void, env: NodeJS.ProcessEnv = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, PIP_NO_INPUT: "1", ...env } });
    const tail: string[] = [];
    let buffered = "";
    const take = (chunk: Buffer) => {
      buffered += chunk.toString("utf8");
      const lines = buffered.split(/\r?\n/);
      buffered = lines.pop() ?? "";
      for (const line of lines) {
        tail.push(line);
        if (tail.length > 30) tail.shift();
        onLine(line);
      }
    };
    child.stdout.on("data", take);
    child.stderr.on("data", take);
    child.on("error", (error) => reject(new Error(`mxdb: cannot run ${command}: ${error.message}`)));
    child.on("close", (code) => {
      if (code === 0) resolve();
      else reject(new Error(`mxdb: ${command} ${args.join(" ")} exited with ${code}:\n${[...tail, buffered].join("\n")}`));
    });
  });
}

/** A lock directory holding the owner's pid; a lock whose owner is dead is taken over. */
export async function acquireLock(path: string, progress: (line: string) => void): Promise<() => void> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  let told = false;
  for (;;) {
    try {
      mkdirSync(path);
      writeFileSync(join(path, "pid"), String(process.pid));
      return () => rmSync(path, { recursive: true, force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    if (lockIsStale(path)) {
      rmSync(path, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`mxdb: timed out waiting for the install lock ${path}`);
    if (!told) progress(`waiting for another process installing into ${dirname(path)} (lock ${path}) ...`);
    told = true;
    await new Promise((r) => setTimeout(r, 500));
  }
}

function lockIsStale(path: string): boolean {
  let pid: number;
  try {
    pid = Number(readFileSync(join(path, "pid"), "utf8"));
  } catch {
    // Just created by its owner, pid not written yet; only stale if old.
    try {
      return Date.now() - statSync(path).mtimeMs > 30_000;
    } catch {
      return true;
    }
  }
  if (!Number.isInteger(pid) || pid <= 0) return true;
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ESRCH";
  }
}
