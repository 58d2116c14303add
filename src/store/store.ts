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
}

/** A store that could not be opened or read: a corrupt file, or a format this version does not know. */
export class StoreFormatError extends Error {
  override readonly name = "StoreFormatError";
  readonly code = "STORE_FORMAT";
  constructor(
    message: string,
    readonly path: string,
    /** The version found in the file, when there was one. */
    readonly foundVersion?: unknown,
  ) {
    super(`${message} (${path})`);
  }
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
    for (const [k, v] of Object.entries(entries)) {
      if (v === undefined) this.map.delete(k);
      else this.map.set(k, v);
    }
  }
  async delete(key: string): Promise<void> {
    this.map.delete(key);
  }
  async keys(prefix = ""): Promise<string[]> {
    return [...this.map.keys()].filter((k) => k.startsWith(prefix)).sort();
  }
}
