/** The local disk: sync token, room snapshots, crypto state. No network. */
export { MemoryStore, StoreFormatError, type Store } from "./store.js";
// FileStore (node:fs) is exported by src/node.ts, and loaded by the core only where a store path is given.
export { IndexedDBStore } from "./indexeddb-store.js";
