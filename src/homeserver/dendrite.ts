/**
 * Dendrite (github.com/matrix-org/dendrite), the second homeserver implementation the tests run on:
 * built with `go install` from the Go module proxy into a project-local, git-ignored directory
 * (`.venv/dendrite/bin`, like the Synapse venv), built once and reused while the pinned version is
 * unchanged, and configured as its stock SQLite monolith on loopback. The Synapse facts this differs
 * from: docs/HOMESERVERS.md "Dendrite".
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import type { RateLimitMode } from "./config.js";
import { STDIO_FILE } from "./config.js";
import { acquireLock, run, venvRoot } from "./venv.js";

export const DENDRITE_VERSION = "0.13.8";
export const DENDRITE_MODULE = "github.com/matrix-org/dendrite";
/** The server itself and the tools it needs for keys and config. */
export const DENDRITE_COMMANDS = ["dendrite", "generate-keys", "generate-config", "create-account"] as const;
export const DENDRITE_CONFIG = "dendrite.yaml";
const KEY_FILE = "matrix_key.pem";
const MARKER = ".mxdb-dendrite.json";
const NICE = "/usr/bin/nice";

export interface DendriteBuild {
  dir: string;
  bin(name: (typeof DENDRITE_COMMANDS)[number]): string;
}

function buildOf(dir: string): DendriteBuild {
  return { dir, bin: (name) => join(dir, "bin", name) };
}

function wanted(): string {
  return JSON.stringify({ module: DENDRITE_MODULE, version: DENDRITE_VERSION, commands: DENDRITE_COMMANDS });
}

function built(dir: string): boolean {
  try {
    const m = JSON.parse(readFileSync(join(dir, MARKER), "utf8")) as { module?: unknown; version?: unknown; commands?: unknown };
    return JSON.stringify({ module: m.module, version: m.version, commands: m.commands }) === wanted() && DENDRITE_COMMANDS.every((c) => existsSync(join(dir, "bin", c)));
  } catch {
    return false;
  }
}

/** The Go toolchain: $MXDB_GO, else `go` on PATH, else Go's default install path. */
function goBinary(): string {
  if (process.env.MXDB_GO) return process.env.MXDB_GO;
  const onPath = spawnSync("go", ["version"], { encoding: "utf8" });
  if (onPath.status === 0) return "go";
  if (existsSync("/usr/local/go/bin/go")) return "/usr/local/go/bin/go";
  throw new Error("mxdb: Dendrite is built with Go (1.21+): install it, or set MXDB_GO to its `go` binary");
}

/** Build (once) Dendrite and its tools into `<venv root>/dendrite/bin`; a lock keeps parallel builds out. */
export async function ensureDendrite(onProgress: (line: string) => void = () => {}): Promise<DendriteBuild> {
  const root = venvRoot();
  const dir = join(root, "dendrite");
  if (built(dir)) return buildOf(dir);
  mkdirSync(root, { recursive: true });
  const release = await acquireLock(join(root, "dendrite.lock"), onProgress);
  try {
    if (built(dir)) return buildOf(dir);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(join(dir, "bin"), { recursive: true });
    const go = goBinary();
    const targets = DENDRITE_COMMANDS.map((c) => `${DENDRITE_MODULE}/cmd/${c}@v${DENDRITE_VERSION}`);
    onProgress(`building Dendrite ${DENDRITE_VERSION} with ${go} install (several minutes on a fresh machine; cached afterwards) ...`);
    const started = Date.now();
    // Go's own module and build caches (~/go, ~/.cache/go-build) make a rebuild after a pin change quick.
    // At low CPU priority: the test run starts it early, beside tests that should not be slowed by it.
    const [command, ...args] = [...(existsSync(NICE) ? [NICE, "-n", "10"] : []), go, "install", ...targets];
    await run(command!, args, (line) => onProgress(`  go: ${line}`), { GOBIN: join(dir, "bin") });
    onProgress(`built Dendrite ${DENDRITE_VERSION} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    writeFileSync(join(dir, MARKER), `${JSON.stringify({ ...(JSON.parse(wanted()) as object), builtAt: new Date().toISOString() }, null, 2)}\n`);
    return buildOf(dir);
  } finally {
    release();
  }
}

export interface DendriteConfigOptions {
  dir: string;
  serverName: string;
  sharedSecret: string;
  rateLimits: RateLimitMode;
}

/**
 * generate-config's monolith SQLite config (every database a file in `dir`), then only what a
 * loopback test server needs: the key, the registration shared secret and no perspective key
 * servers (nothing leaves loopback). Rate limiting stays Dendrite's own (on,
 * threshold 5, cooloff 500 ms) except in "lifted" mode, where it is off.
 */
export function writeDendriteConfig(build: DendriteBuild, o: DendriteConfigOptions): string {
  const path = join(o.dir, DENDRITE_CONFIG);
  if (!existsSync(join(o.dir, KEY_FILE))) {
    const keys = spawnSync(build.bin("generate-keys"), ["--private-key", join(o.dir, KEY_FILE)], { cwd: o.dir, encoding: "utf8" });
    if (keys.status !== 0) throw new Error(`mxdb: dendrite generate-keys failed (${keys.status ?? keys.signal}):\n${keys.stdout}${keys.stderr}`);
  }
  const gen = spawnSync(build.bin("generate-config"), ["-dir", o.dir, "-server", o.serverName], { cwd: o.dir, encoding: "utf8" });
  if (gen.status !== 0) throw new Error(`mxdb: dendrite generate-config failed (${gen.status ?? gen.signal}):\n${gen.stdout}${gen.stderr}`);
  const config = parse(gen.stdout) as DendriteYaml;
  config.global.private_key = join(o.dir, KEY_FILE);
  // Federation stays on (its routes share the client port): /_matrix/federation/v1/version is how mxdb
  // tells Dendrite apart. With no perspective key servers and every room local, nothing leaves loopback.
  config.client_api.registration_shared_secret = o.sharedSecret;
  if (o.rateLimits === "lifted") config.client_api.rate_limiting = { ...config.client_api.rate_limiting, enabled: false };
  config.federation_api.key_perspectives = [];
  config.logging = [{ type: "file", level: "info", params: { path: o.dir } }];
  // Holds the shared secret: owner-only.
  writeFileSync(path, stringify(config), { mode: 0o600 });
  return path;
}

interface DendriteYaml {
  global: Record<string, unknown>;
  client_api: { registration_shared_secret?: string; rate_limiting?: Record<string, unknown> } & Record<string, unknown>;
  federation_api: Record<string, unknown>;
  logging?: unknown;
  [k: string]: unknown;
}

/** Start the monolith on `127.0.0.1:port`; stdout/stderr (its log lines too) go to a file in `dir`. */
export function spawnDendrite(o: { binary: string; dir: string; config: string; port: number; detached: boolean }): ChildProcess {
  const out = openSync(join(o.dir, STDIO_FILE), "a");
  try {
    const args = ["--config", o.config, "--http-bind-address", `127.0.0.1:${o.port}`];
    const child = spawn(o.binary, args, { cwd: o.dir, stdio: ["ignore", out, out], detached: o.detached });
    child.unref();
    return child;
  } finally {
    closeSync(out);
  }
}
