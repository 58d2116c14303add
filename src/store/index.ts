/** The local disk: sync token, room snapshots, crypto state. No network. */
export { MemoryStore, StoreFormatError, type Store } from "./store.js";
export { FileStore, FILE_STORE_FORMAT, FILE_STORE_VERSION, FILE_STORE_NAME } from "./file-store.js";
