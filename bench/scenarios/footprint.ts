/**
 * Scenario 7: footprint. Production dependencies on disk: the packed mxdb tarball (`npm pack`)
 * installed with `npm install --omit=dev` into an empty directory, next to matrix-js-sdk and
 * matrix-bot-sdk installed the same way (looked up on the npm registry for this measurement only;
 * nothing of ours imports them). Install scripts are skipped for all three (matrix-bot-sdk's would
 * download a native crypto binary). Installs are cached in the OS temp dir by name and version, so
 * reruns are fast. Plus the size of a minified bundle of the library (esbuild, for node, olm
 * external: its JS and wasm are not counted), raw and gzipped.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { projectRoot } from "../../src/homeserver/venv.js";
import { round } from "../lib/stats.js";

export interface Installed {
  package: string;
  version: string;
  /** `du -sk node_modules`, in MB (2^20 bytes). */
  diskMB: number;
  /** Sum of file sizes (`du -sb`), in MB. */
  apparentMB: number;
  packages: number;
  /** The largest installed packages, MB on disk. */
  largest: Array<{ name: string; diskMB: number }>;
}

export interface FootprintResult {
  mxdb: Installed & { how: string };
  others: Installed[];
  bundle: { bytes: number; gzipBytes: number; external: string[]; entry: string } | { error: string };
}

const CACHE = join(tmpdir(), "mxdb-bench-footprint");
const NPM_FLAGS = ["--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error", "--no-package-lock"];

function sh(cmd: string, args: string[], cwd: string): string {
  return execFileSync(cmd, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 16 << 20 });
}

function measure(dir: string, pkg: string, version: string): Installed {
  const nm = join(dir, "node_modules");
  const kb = Number(sh("du", ["-sk", nm], dir).split(/\s/)[0]);
  const bytes = Number(sh("du", ["-sb", nm], dir).split(/\s/)[0]);
  const packages = sh("find", [nm, "-name", "package.json", "-not", "-path", "*/node_modules/*/node_modules/*/node_modules/*"], dir)
    .split("\n")
    .filter((p) => /node_modules\/(@[^/]+\/)?[^/@]+\/package\.json$/.test(p)).length;
  const dirs = sh("find", [nm, "-mindepth", "1", "-maxdepth", "2", "-type", "d", "-not", "-name", ".*"], dir)
    .split("\n")
    .filter((p) => p !== "" && !/node_modules\/@[^/]+$/.test(p) && (/node_modules\/@[^/]+\/[^/]+$/.test(p) || /node_modules\/[^@/][^/]*$/.test(p)));
  const largest = dirs
    .map((p) => ({ name: p.slice(nm.length + 1), diskMB: round(Number(sh("du", ["-sk", p], dir).split(/\s/)[0]) / 1024, 1) }))
    .sort((a, b) => b.diskMB - a.diskMB)
    .slice(0, 5);
  return { package: pkg, version, diskMB: round(kb / 1024, 1), apparentMB: round(bytes / 2 ** 20, 1), packages, largest };
}

/** Install `spec` (a registry name@version or a tarball path) into a cached dir named `key`. */
function install(key: string, spec: string, log: (l: string) => void): string {
  const dir = join(CACHE, key);
  if (existsSync(join(dir, "node_modules", ".mxdb-bench-done"))) return dir;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "package.json"), `${JSON.stringify({ name: "footprint", private: true })}\n`);
  log(`footprint: npm install --omit=dev ${spec.startsWith("/") ? "mxdb tarball" : spec}`);
  sh("npm", ["install", ...NPM_FLAGS, spec], dir);
  writeFileSync(join(dir, "node_modules", ".mxdb-bench-done"), "");
  return dir;
}

function mxdbInstall(log: (l: string) => void): Installed & { how: string } {
  const root = projectRoot();
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string; dependencies: Record<string, string> };
  const packDir = mkdtempSync(join(tmpdir(), "mxdb-pack-"));
  try {
    log("footprint: npm pack (builds dist/)");
    const out = sh("npm", ["pack", "--pack-destination", packDir, "--loglevel=error"], root).trim().split("\n").at(-1)!;
    const tarball = join(packDir, out);
    const hash = createHash("sha256").update(readFileSync(tarball)).digest("hex").slice(0, 16);
    const dir = install(`mxdb-${hash}`, tarball, log);
    return { ...measure(dir, "mxdb", pkg.version), how: "npm pack, then npm install --omit=dev of the tarball" };
  } catch (e) {
    // The build can fail while others are mid-change: the dependencies alone are what matters here.
    const why = (e as { stderr?: string }).stderr?.split("\n").find((l) => l.trim() !== "") ?? String(e);
    log(`footprint: npm pack failed (${why}); installing the declared dependencies instead`);
    const specs = Object.entries(pkg.dependencies).map(([n, v]) => `${n}@${v}`);
    const key = `mxdb-deps-${createHash("sha256").update(specs.join(" ")).digest("hex").slice(0, 16)}`;
    const dir = install(key, specs.join(" "), log);
    return { ...measure(dir, "mxdb (dependencies only)", pkg.version), how: `dependencies only: npm pack failed (${why})` };
  } finally {
    rmSync(packDir, { recursive: true, force: true });
  }
}

async function bundle(): Promise<FootprintResult["bundle"]> {
  const root = projectRoot();
  try {
    const esbuild = (await import("esbuild")) as typeof import("esbuild");
    const external = ["@matrix-org/olm"];
    const result = await esbuild.build({
      entryPoints: [join(root, "src", "index.ts")],
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node20",
      minify: true,
      write: false,
      external,
      logLevel: "silent",
    });
    const code = result.outputFiles[0]!.contents;
    return { bytes: code.byteLength, gzipBytes: gzipSync(code, { level: 9 }).byteLength, external, entry: "src/index.ts" };
  } catch (e) {
    return { error: (e as Error).message.split("\n")[0]! };
  }
}

export async function benchFootprint(_size: "full" | "quick", log: (l: string) => void): Promise<FootprintResult> {
  mkdirSync(CACHE, { recursive: true });
  const mxdb = mxdbInstall(log);
  log(`footprint: mxdb ${mxdb.diskMB} MB on disk (${mxdb.packages} packages)`);
  const others: Installed[] = [];
  for (const name of ["matrix-js-sdk", "matrix-bot-sdk"]) {
    const version = sh("npm", ["view", name, "version", "--loglevel=error"], CACHE).trim();
    const dir = install(`${name}@${version}`, `${name}@${version}`, log);
    others.push(measure(dir, name, version));
    log(`footprint: ${name} ${version}: ${others.at(-1)!.diskMB} MB on disk (${others.at(-1)!.packages} packages)`);
  }
  const b = await bundle();
  if ("bytes" in b) log(`footprint: minified bundle ${(b.bytes / 1024).toFixed(1)} KB, gzip ${(b.gzipBytes / 1024).toFixed(1)} KB`);
  else log(`footprint: bundle failed: ${b.error}`);
  return { mxdb, others, bundle: b };
}
