/**
 * The 32-byte key that seals the crypto store at rest (src/crypto/README.md "Keeping the store key";
 * what each choice protects against: src/db/README.md "Encryption at rest").
 *
 *   storePassphrase      -> scrypt(passphrase, salt); the 16-byte random salt is kept in the Store
 *                           under "crypto-meta/salt" (not secret);
 *   storeKeyFile / a store directory -> 32 random bytes in a 0600 file, created on first use
 *                           (default `<store dir>/crypto.key`);
 *   a MemoryStore        -> a random key kept with that Store object for the life of the process.
 * Anything else (a Store object of another kind without a passphrase or key file) has no key.
 */
import { randomBytes } from "node:crypto";
import { chmod, mkdir, open, readFile, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { deriveStoreKey } from "../crypto/index.js";
import { MemoryStore, type Store } from "../store/store.js";
import { ConfigError } from "./errors.js";

export const SALT_KEY = "crypto-meta/salt";
export const KEY_FILE_NAME = "crypto.key";

const memoryKeys = new WeakMap<Store, Uint8Array>();

export type StoreKeySource =
  | { kind: "passphrase"; passphrase: string }
  | { kind: "file"; path: string }
  | { kind: "memory" }
  | { kind: "none"; reason: string };

export function storeKeySource(opts: { store?: string | Store; storePassphrase?: string; storeKeyFile?: string }, store: Store): StoreKeySource {
  if (opts.storePassphrase !== undefined) return { kind: "passphrase", passphrase: opts.storePassphrase };
  if (opts.storeKeyFile !== undefined) return { kind: "file", path: opts.storeKeyFile };
  if (typeof opts.store === "string") return { kind: "file", path: join(opts.store, KEY_FILE_NAME) };
  if (store instanceof MemoryStore) return { kind: "memory" };
  return { kind: "none", reason: "the store is a custom Store: give storePassphrase or storeKeyFile to keep its crypto state encrypted" };
}

/** The key, or undefined for a source of kind "none". */
export async function loadStoreKey(source: StoreKeySource, store: Store): Promise<Uint8Array | undefined> {
  switch (source.kind) {
    case "passphrase": {
      let salt = await store.get(SALT_KEY);
      if (salt === undefined) {
        salt = randomBytes(16).toString("base64");
        await store.set(SALT_KEY, salt);
      }
      return deriveStoreKey(source.passphrase, Buffer.from(salt, "base64"));
    }
    case "file":
      return keyFile(source.path);
    case "memory": {
      let key = memoryKeys.get(store);
      if (!key) memoryKeys.set(store, (key = new Uint8Array(randomBytes(32))));
      // A copy: the caller wipes what it is given once the machine has its own.
      return key.slice();
    }
    case "none":
      return undefined;
  }
}

/** Read the key file, or create it (exclusively, mode 0600) with 32 random bytes. */
async function keyFile(path: string): Promise<Uint8Array> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  try {
    const handle = await open(path, "wx", 0o600);
    try {
      const key = new Uint8Array(randomBytes(32));
      await handle.writeFile(Buffer.from(key).toString("base64") + "\n");
      await handle.sync();
      return key;
    } finally {
      await handle.close();
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
  }
  const mode = (await stat(path)).mode & 0o777;
  // Group or world could read it: tighten rather than refuse (the key itself is unchanged).
  if (mode & 0o077) await chmod(path, 0o600);
  const key = Buffer.from((await readFile(path, "utf8")).trim(), "base64");
  if (key.length !== 32) throw new ConfigError(`the store key file ${path} must hold 32 bytes in base64, found ${key.length} bytes`);
  return new Uint8Array(key);
}
