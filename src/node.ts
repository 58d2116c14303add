/**
 * The package's entry on Node, Bun and Deno (package.json "exports" conditions): the portable core
 * (./index.ts) and the pieces that need Node's file system or undici, importable by name. The core
 * loads them itself where they are needed (a store path, a trace path, the first request on Node);
 * these exports are for callers who build their own (docs/RUNTIMES.md).
 */
export * from "./index.js";
export { undiciTransport, type UndiciTransportOptions } from "./http/undici-transport.js";
export { fileTraceSink } from "./http/trace-file.js";
export { FileStore, FILE_STORE_FORMAT, FILE_STORE_NAME, FILE_STORE_VERSION } from "./store/file-store.js";
