/**
 * The package's entry on Node, Bun and Deno (package.json "exports" conditions): the portable core
 * (./index.ts), its Node-only modules registered so that a bundled build finds them, and FileStore
 * and fileTraceSink by name. undici stays unloaded until the first request on Node; its transport
 * by name is at "mxdb/undici" (docs/RUNTIMES.md).
 */
import { registerNodeOnly } from "./http/runtime.js";

registerNodeOnly({
  "http/undici-transport.js": () => import("./http/undici-transport.js"),
  "store/file-store.js": () => import("./store/file-store.js"),
  "http/trace-file.js": () => import("./http/trace-file.js"),
  "db/key-file.js": () => import("./db/key-file.js"),
});

export * from "./index.js";
export { fileTraceSink } from "./http/trace-file.js";
export { FileStore, FILE_STORE_FORMAT, FILE_STORE_NAME, FILE_STORE_VERSION } from "./store/file-store.js";
