import { MxdbError } from "../http/errors.js";
import { applyChanges, checkValues } from "./cached-store.js";

/**
 * Where the sync token, room state snapshots and (later) the crypto state live. A string -> string
 * map; the layers above choose their keys ("sync/...", "crypto/...") and encode their own values.
 */
export interface Store {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string): Promise<void>;
  /** Atomic: after a crash either every entry is written or none is. `undefined` deletes the key. */
  setMany(entries: Record<string, string | undefined>): Promise<void>;
  delete(key: string): Promise<void>;
  /** Keys starting with `prefix` (all keys when omitted), sorted. */
  keys(prefix?: string): Promise<string[]>;
  close?(): Promise<void>;
  /**
   * A store that keeps its own key for sealing the crypto store at rest (IndexedDBStore: random bytes
   * in its own database, as a FileStore directory keeps crypto.key). Used when neither
   * storePassphrase nor storeKeyFile is given.
   */
  sealingKey?(): Promise<Uint8Array>;
}

/**
 * A store that could not be opened or read: a corrupt file, a format this version does not know, or
 * an entry (a room snapshot, the room list) of the wrong shape. Thrown at load, before anything is sent.
 */
export class StoreFormatError extends MxdbError {
  override readonly name = "StoreFormatError";
  readonly code = "STORE_FORMAT";
  constructor(
    message: string,
    /** The store file, or `store key <key>` for an entry of a Store that is not a file. */
    readonly path: string,
    /** The version found in the file, when there was one. */
    readonly foundVersion?: unknown,
    detail: { key?: string; cause?: unknown } = {},
  ) {
    super(`${message} (${path}${detail.key !== undefined ? `, key ${detail.key}` : ""})${detail.cause instanceof Error ? `: ${detail.cause.message}` : ""}`);
    this.key = detail.key;
    if (detail.cause !== undefined) this.cause = detail.cause;
  }
  /** The Store entry that was damaged, when it was one entry. */
  readonly key: string | undefined;
}

/** Kept in memory only: tests, and programs that resync from scratch on every start. */
export class MemoryStore implements Store {
  private readonly map = new Map<string, string>();

  async get(key: string): Promise<string | undefined> {
    return this.map.get(key);
  }
  async set(key: string, value: string): Promise<void> {
    this.map.set(key, value);
  }
  async setMany(entries: Record<string, string | undefined>): Promise<void> {
    // All or nothing, as every Store: check first, then apply.
    checkValues(entries);
    applyChanges(this.map, entries);
  }
  async delete(key: string): Promise<void> {
    this.map.delete(key);
  }
  async keys(prefix = ""): Promise<string[]> {
    return [...this.map.keys()].filter((k) => k.startsWith(prefix)).sort();
  }
}
