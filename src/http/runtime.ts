/**
 * Which JavaScript runtime this is, decided once from what the runtime itself declares, and a way
 * to load a module that exists only where it runs (docs/RUNTIMES.md).
 *
 * Node-only parts (the undici transport, FileStore, the file trace sink, the store key file) are
 * loaded with `loadNodeOnly`: the Node entry (src/node.ts) registers them with literal imports, so a
 * bundled build resolves them at build time; without it (the source run directly) they are
 * imported by a specifier built at run time, which no bundler follows, so a browser or Workers
 * bundle never contains them. Where they cannot run, nothing asks for them.
 */

export type RuntimeName = "node" | "bun" | "deno" | "workerd" | "browser" | "other";

interface RuntimeGlobals {
  process?: { versions?: { node?: string; bun?: string } };
  Deno?: unknown;
  navigator?: { userAgent?: string };
  document?: unknown;
}

/** Read from globalThis: the core may look at a Node global, never depend on one. */
export function detectRuntime(g: RuntimeGlobals = globalThis as RuntimeGlobals): RuntimeName {
  if (g.Deno !== undefined) return "deno";
  if (g.process?.versions?.bun !== undefined) return "bun";
  if (g.navigator?.userAgent === "Cloudflare-Workers") return "workerd";
  if (g.process?.versions?.node !== undefined) return "node";
  if (g.document !== undefined || g.navigator !== undefined) return "browser";
  return "other";
}

export const RUNTIME: RuntimeName = detectRuntime();

/** Runtimes with a file system reachable through `node:fs` (Deno through its Node compatibility). */
export const HAS_FILE_SYSTEM = RUNTIME === "node" || RUNTIME === "bun" || RUNTIME === "deno";

const registered = new Map<string, () => Promise<unknown>>();

/** Called by the Node entry (src/node.ts): each Node-only module by its path under src. */
export function registerNodeOnly(loaders: Record<string, () => Promise<unknown>>): void {
  for (const [path, load] of Object.entries(loaders)) registered.set(path, load);
}

/** A Node-only module by its path under src ("store/file-store.js"). */
export function loadNodeOnly<T>(srcPath: string): Promise<T> {
  const load = registered.get(srcPath);
  return (load ? load() : loadBeside(import.meta.url, `../${srcPath}`)) as Promise<T>;
}

/**
 * Import `relative` (a path like "../store/file-store.js") beside the module whose `import.meta.url`
 * is `base`. Both are variables, so bundlers leave the import alone (the comments say so to Vite
 * and webpack too).
 */
export function loadBeside<T>(base: string, relative: string): Promise<T> {
  const url = new URL(relative, base).href;
  return import(/* @vite-ignore */ /* webpackIgnore: true */ url) as Promise<T>;
}

/**
 * Run `fn` soon, after pending I/O callbacks: setImmediate where the runtime has one (Node, Bun:
 * no 1 ms clamp, and the simulation counts them), else setTimeout(fn, 0). Looked up at each call,
 * so a test that replaces the global sees every use.
 */
export function macrotask(fn: () => void): void {
  const g = globalThis as { setImmediate?: (fn: () => void) => unknown };
  if (typeof g.setImmediate === "function") g.setImmediate(fn);
  else setTimeout(fn, 0);
}
