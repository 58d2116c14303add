/**
 * A Store in the browser's IndexedDB: one database per store, an object store of string entries and
 * one for the sealing key. Reads are answered from memory after the first load (as FileStore does);
 * each setMany is one readwrite transaction, atomic by IndexedDB's rules, and resolves when it has
 * committed (durability "strict" where the browser supports it: on disk, not just in its cache).
 *
 * The crypto store is sealed at rest as with a FileStore's key file: a random 32-byte key, created on
 * first use, kept in this database's own object store (src/db/store-key.ts). Like the key file it
 * protects copies of the entries alone, not someone who can read the whole origin's storage; a
 * storePassphrase protects more. Uses only the `indexedDB` global: browsers and web workers.
 */
import { randomBytes, toBase64, fromBase64 } from "../crypto/bytes.js";
import { CachedStore } from "./cached-store.js";

const ENTRIES = "entries";
const META = "meta";
const SEALING_KEY = "sealing-key";

interface IdbRequest<T> {
  result: T;
  error: unknown;
  onsuccess: (() => void) | null;
  onerror: (() => void) | null;
}
interface IdbTransaction {
  objectStore(name: string): IdbObjectStore;
  oncomplete: (() => void) | null;
  onerror: (() => void) | null;
  onabort: (() => void) | null;
  error: unknown;
}
interface IdbObjectStore {
  get(key: string): IdbRequest<unknown>;
  put(value: unknown, key: string): IdbRequest<unknown>;
  delete(key: string): IdbRequest<unknown>;
  getAll(): IdbRequest<unknown[]>;
  getAllKeys(): IdbRequest<unknown[]>;
}
interface IdbDatabase {
  transaction(names: string[], mode: "readonly" | "readwrite", options?: { durability?: string }): IdbTransaction;
  createObjectStore(name: string): unknown;
  objectStoreNames: { contains(name: string): boolean };
  close(): void;
}
interface IdbFactory {
  open(name: string, version: number): IdbRequest<IdbDatabase> & { onupgradeneeded: (() => void) | null };
}

function request<T>(r: IdbRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

function done(tx: IdbTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error ?? new Error("the IndexedDB transaction was aborted"));
  });
}

export class IndexedDBStore extends CachedStore {
  private db: Promise<IdbDatabase> | undefined;

  /** `name`: the IndexedDB database (one per memory, e.g. "mxdb-<userId>"). */
  constructor(
    readonly name: string,
    private readonly factory: IdbFactory | undefined = (globalThis as { indexedDB?: IdbFactory }).indexedDB,
  ) {
    super();
  }

  protected async readAll(): Promise<Map<string, string>> {
    const store = (await this.open()).transaction([ENTRIES], "readonly").objectStore(ENTRIES);
    const [keys, values] = await Promise.all([request(store.getAllKeys()), request(store.getAll())]);
    const map = new Map<string, string>();
    keys.forEach((k, i) => map.set(String(k), String(values[i])));
    return map;
  }

  /** One readwrite transaction: atomic, and resolved once it has committed. */
  protected async persist(changes: Record<string, string | undefined>): Promise<void> {
    const tx = (await this.open()).transaction([ENTRIES], "readwrite", { durability: "strict" });
    const store = tx.objectStore(ENTRIES);
    for (const [k, v] of Object.entries(changes)) {
      if (v === undefined) store.delete(k);
      else store.put(v, k);
    }
    await done(tx);
  }

  /** The key that seals the crypto store: 32 random bytes made on first use and kept in this database. */
  async sealingKey(): Promise<Uint8Array> {
    const db = await this.open();
    const existing = await request(db.transaction([META], "readonly").objectStore(META).get(SEALING_KEY));
    if (typeof existing === "string") return fromBase64(existing);
    const key = randomBytes(32);
    const tx = db.transaction([META], "readwrite", { durability: "strict" });
    // add-if-absent: two tabs opening at once must end with one key, so read it back after writing.
    const store = tx.objectStore(META);
    const current = await request(store.get(SEALING_KEY));
    if (current === undefined) store.put(toBase64(key), SEALING_KEY);
    await done(tx);
    return typeof current === "string" ? fromBase64(current) : key;
  }

  override async close(): Promise<void> {
    await super.close();
    (await this.db)?.close();
    this.db = undefined;
    this.forget();
  }

  private open(): Promise<IdbDatabase> {
    if (!this.factory) return Promise.reject(new Error("IndexedDBStore needs IndexedDB (browsers and web workers)"));
    const factory = this.factory;
    this.db ??= new Promise<IdbDatabase>((resolve, reject) => {
      const r = factory.open(this.name, 1);
      r.onupgradeneeded = () => {
        const db = r.result;
        if (!db.objectStoreNames.contains(ENTRIES)) db.createObjectStore(ENTRIES);
        if (!db.objectStoreNames.contains(META)) db.createObjectStore(META);
      };
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
    return this.db;
  }
}
