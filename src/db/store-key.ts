/**
 * The 32-byte key that seals the crypto store at rest (src/crypto/README.md "Keeping the store key";
 * what each choice protects against: src/db/README.md "Encryption at rest").
 *
 *   storePassphrase      -> scrypt(passphrase, salt); the 16-byte random salt is kept in the Store
 *                           under "crypto-meta/salt" (not secret);
 *   storeKeyFile / a store directory -> 32 random bytes in a 0600 file, created on first use
 *                           (default `<store dir>/crypto.key`);
 *   a MemoryStore        -> a random key kept with that Store object for the life of the process;
 *   a Store with sealingKey() (IndexedDBStore) -> the key it keeps beside its entries.
 * Anything else (a Store object of another kind without a passphrase or key file) has no key.
 */
import { fromBase64, randomBytes, toBase64 } from "../crypto/bytes.js";
import { deriveStoreKey } from "../crypto/index.js";
import { loadNodeOnly } from "../http/runtime.js";
import { MemoryStore, type Store } from "../store/store.js";

export const SALT_KEY = "crypto-meta/salt";
export const KEY_FILE_NAME = "crypto.key";

const memoryKeys = new WeakMap<Store, Uint8Array>();

export type StoreKeySource =
  | { kind: "passphrase"; passphrase: string }
  | { kind: "file"; path: string }
  | { kind: "memory" }
  | { kind: "store" }
  | { kind: "none"; reason: string };

export function storeKeySource(opts: { store?: string | Store; storePassphrase?: string; storeKeyFile?: string }, store: Store): StoreKeySource {
  if (opts.storePassphrase !== undefined) return { kind: "passphrase", passphrase: opts.storePassphrase };
  if (opts.storeKeyFile !== undefined) return { kind: "file", path: opts.storeKeyFile };
  if (typeof opts.store === "string") return { kind: "file", path: `${opts.store.replace(/\/+$/, "")}/${KEY_FILE_NAME}` };
  if (store instanceof MemoryStore) return { kind: "memory" };
  if (typeof store.sealingKey === "function") return { kind: "store" };
  return { kind: "none", reason: "the store is a custom Store: give storePassphrase or storeKeyFile to keep its crypto state encrypted" };
}

/** The key, or undefined for a source of kind "none". */
export async function loadStoreKey(source: StoreKeySource, store: Store): Promise<Uint8Array | undefined> {
  switch (source.kind) {
    case "passphrase": {
      let salt = await store.get(SALT_KEY);
      if (salt === undefined) {
        salt = toBase64(randomBytes(16));
        await store.set(SALT_KEY, salt);
      }
      return deriveStoreKey(source.passphrase, fromBase64(salt));
    }
    case "file":
      // Files exist only where the runtime has a file system: loaded there, never bundled elsewhere.
      return (await loadNodeOnly<typeof import("./key-file.js")>("db/key-file.js")).readOrCreateKeyFile(source.path);
    case "memory": {
      let key = memoryKeys.get(store);
      if (!key) memoryKeys.set(store, (key = randomBytes(32)));
      // A copy: the caller wipes what it is given once the machine has its own.
      return key.slice();
    }
    case "store":
      return (await store.sealingKey!()).slice();
    case "none":
      return undefined;
  }
}
