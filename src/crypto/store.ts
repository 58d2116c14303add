/**
 * The crypto store: every record is JSON, sealed with AES-256-GCM under the caller's 32-byte storeKey
 * (a fresh 96-bit random nonce per write; the record's name is the additional authenticated data, so
 * a value cannot be moved to another name). Olm objects inside records are also pickled with storeKey,
 * so no private key is ever written in plaintext.
 *
 * Stored value format (version field first so a later format can be told apart):
 *   {"v":1,"alg":"A256GCM","iv":<b64 12 bytes>,"ct":<b64 ciphertext||16-byte tag>}
 *
 * WebCrypto (AES-GCM) and @noble/hashes (scrypt, which WebCrypto lacks) are computation here, not
 * I/O; all I/O goes through the injected KeyValueStore. The bytes are those node:crypto wrote before.
 */
import { scryptAsync } from "@noble/hashes/scrypt.js";
import { fromBase64, fromUtf8, toBase64, utf8 } from "./bytes.js";
import { StoreDecryptionError } from "./errors.js";

/** Structurally compatible with src/store's Store (not imported: src/crypto imports only itself). */
export interface KeyValueStore {
  get(key: string): Promise<string | undefined>;
  /** Atomic where the backing store allows; `undefined` deletes. */
  setMany(entries: Record<string, string | undefined>): Promise<void>;
  keys(prefix?: string): Promise<string[]>;
}

export type RandomBytes = (n: number) => Uint8Array;

const FORMAT_VERSION = 1;

/**
 * storeKey from a passphrase: scrypt(N=2^17, r=8, p=1), 32 bytes. Keep `salt` (16 random bytes) next
 * to the store, in plaintext; it is not secret. N=2^17 takes ~0.3 s and 128 MiB: once per process start.
 */
export async function deriveStoreKey(passphrase: string, salt: Uint8Array): Promise<Uint8Array> {
  if (salt.length < 16) throw new RangeError("salt must be at least 16 bytes");
  return scryptAsync(passphrase, salt, { N: 2 ** 17, r: 8, p: 1, dkLen: 32, maxmem: 2 ** 28 });
}

/** WebCrypto keys are bound to one use; importing per call keeps the raw key the only thing we hold. */
function aesKey(storeKey: Uint8Array, use: "encrypt" | "decrypt") {
  return globalThis.crypto.subtle.importKey("raw", storeKey as Uint8Array<ArrayBuffer>, "AES-GCM", false, [use]);
}

/** AES-256-GCM; WebCrypto appends the 16-byte tag to the ciphertext, as the format wants. */
export async function sealValue(storeKey: Uint8Array, name: string, plaintext: string, random: RandomBytes): Promise<string> {
  const iv = random(12) as Uint8Array<ArrayBuffer>;
  const params = { name: "AES-GCM", iv, additionalData: utf8(name) as Uint8Array<ArrayBuffer> };
  const ct = new Uint8Array(await globalThis.crypto.subtle.encrypt(params, await aesKey(storeKey, "encrypt"), utf8(plaintext) as Uint8Array<ArrayBuffer>));
  return JSON.stringify({ v: FORMAT_VERSION, alg: "A256GCM", iv: toBase64(iv), ct: toBase64(ct) });
}

export async function openValue(storeKey: Uint8Array, name: string, stored: string): Promise<string> {
  try {
    const rec = JSON.parse(stored) as { v?: unknown; alg?: unknown; iv?: unknown; ct?: unknown };
    if (rec.v !== FORMAT_VERSION || rec.alg !== "A256GCM" || typeof rec.iv !== "string" || typeof rec.ct !== "string") {
      throw new Error(`unknown record format v=${String(rec.v)}`);
    }
    const params = { name: "AES-GCM", iv: fromBase64(rec.iv) as Uint8Array<ArrayBuffer>, additionalData: utf8(name) as Uint8Array<ArrayBuffer> };
    return fromUtf8(new Uint8Array(await globalThis.crypto.subtle.decrypt(params, await aesKey(storeKey, "decrypt"), fromBase64(rec.ct) as Uint8Array<ArrayBuffer>)));
  } catch (e) {
    throw new StoreDecryptionError(name, e);
  }
}

/**
 * A write-back cache over the KeyValueStore: reads decrypt once, writes collect until flush(), which
 * hands every change to one setMany (so a /sync batch lands together or not at all).
 */
export class SealedStore {
  private readonly cache = new Map<string, unknown>();
  private readonly dirty = new Map<string, unknown>();

  constructor(
    private readonly kv: KeyValueStore,
    storeKey: Uint8Array,
    private readonly prefix: string,
    private readonly random: RandomBytes,
  ) {
    if (storeKey.length !== 32) throw new RangeError("storeKey must be 32 bytes");
    this.storeKey = storeKey.slice(); // our own copy: nobody can zero or change it under us
  }

  private readonly storeKey: Uint8Array;

  async get<T>(name: string): Promise<T | undefined> {
    if (this.cache.has(name)) return this.cache.get(name) as T | undefined;
    const stored = await this.kv.get(this.prefix + name);
    const value = stored === undefined ? undefined : (JSON.parse(await openValue(this.storeKey, this.prefix + name, stored)) as T);
    if (!this.cache.has(name)) this.cache.set(name, value);
    return this.cache.get(name) as T | undefined;
  }

  /** Names under `sub` (without the store prefix). */
  async names(sub: string): Promise<string[]> {
    const found = new Set((await this.kv.keys(this.prefix + sub)).map((k) => k.slice(this.prefix.length)));
    for (const [k, v] of this.cache) if (k.startsWith(sub) && v !== undefined) found.add(k);
    for (const [k, v] of this.cache) if (k.startsWith(sub) && v === undefined) found.delete(k);
    return [...found].sort();
  }

  set(name: string, value: unknown): void {
    this.cache.set(name, value);
    this.dirty.set(name, value);
  }

  delete(name: string): void {
    this.set(name, undefined);
  }

  async flush(): Promise<void> {
    if (this.dirty.size === 0) return;
    const entries: Record<string, string | undefined> = {};
    for (const [name, value] of this.dirty) {
      const full = this.prefix + name;
      entries[full] = value === undefined ? undefined : await sealValue(this.storeKey, full, JSON.stringify(value), this.random);
    }
    this.dirty.clear();
    await this.kv.setMany(entries);
  }
}
