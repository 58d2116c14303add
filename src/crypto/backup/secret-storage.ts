/**
 * Secret storage, algorithm m.secret_storage.v1.aes-hmac-sha2
 * (https://spec.matrix.org/v1.19/client-server-api/#msecret_storagev1aes-hmac-sha2):
 *   1. HKDF-SHA-256(key, salt = 32 zero bytes, info = the secret's name) -> 64 bytes: AES key, HMAC key;
 *   2. AES-CTR-256 with a random 16-byte IV whose bit 63 is cleared (so the 64-bit counter never wraps);
 *   3. HMAC-SHA-256 of the ciphertext.
 * The key's description carries a check (`iv`, `mac`: 32 zero bytes encrypted under the name ""), and
 * optionally how it derives from a passphrase (m.pbkdf2: PBKDF2-SHA-512). Pure computation: the
 * account data these objects live in is read and written by src/db.
 */
import { hkdf } from "@noble/hashes/hkdf.js";
import { hmac } from "@noble/hashes/hmac.js";
import { pbkdf2Async } from "@noble/hashes/pbkdf2.js";
import { sha256, sha512 } from "@noble/hashes/sha2.js";
import { fromBase64, fromUtf8, randomBytes, toBase64, utf8 } from "../bytes.js";
import type { RandomBytes } from "../store.js";
import { RecoverySetupError, SecretDecryptionError, WrongRecoveryKeyError } from "./errors.js";

export const AES_HMAC_SHA2 = "m.secret_storage.v1.aes-hmac-sha2";
export const DEFAULT_KEY_EVENT = "m.secret_storage.default_key";
export const keyEventType = (keyId: string) => `m.secret_storage.key.${keyId}`;

/** The secrets mxdb keeps there (account data event types = secret names). */
export const SECRET = {
  backup: "m.megolm_backup.v1",
  master: "m.cross_signing.master",
  selfSigning: "m.cross_signing.self_signing",
  userSigning: "m.cross_signing.user_signing",
} as const;

export interface EncryptedSecret {
  iv: string;
  ciphertext: string;
  mac: string;
}

export interface PassphraseInfo {
  algorithm: "m.pbkdf2";
  salt: string;
  iterations: number;
  bits?: number;
}

/** Content of m.secret_storage.key.<id>. */
export interface KeyDescription {
  algorithm: string;
  name?: string;
  iv?: string;
  mac?: string;
  passphrase?: PassphraseInfo;
}

function deriveKeys(key: Uint8Array, name: string): { aes: Uint8Array; mac: Uint8Array } {
  const out = hkdf(sha256, key, new Uint8Array(32), utf8(name), 64);
  return { aes: out.slice(0, 32), mac: out.slice(32) };
}

async function aesCtr(aesKey: Uint8Array, iv: Uint8Array, data: Uint8Array, use: "encrypt" | "decrypt"): Promise<Uint8Array> {
  const k = await globalThis.crypto.subtle.importKey("raw", aesKey as Uint8Array<ArrayBuffer>, "AES-CTR", false, [use]);
  const params = { name: "AES-CTR", counter: iv as Uint8Array<ArrayBuffer>, length: 64 };
  return new Uint8Array(await globalThis.crypto.subtle[use](params, k, data as Uint8Array<ArrayBuffer>));
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

async function encryptBytes(key: Uint8Array, name: string, plaintext: Uint8Array, iv: Uint8Array): Promise<EncryptedSecret> {
  const { aes, mac } = deriveKeys(key, name);
  const ciphertext = await aesCtr(aes, iv, plaintext, "encrypt");
  const tag = hmac(sha256, mac, ciphertext);
  aes.fill(0);
  mac.fill(0);
  return { iv: toBase64(iv), ciphertext: toBase64(ciphertext), mac: toBase64(tag) };
}

function newIv(random: RandomBytes): Uint8Array {
  const iv = random(16);
  iv[8]! &= 0x7f;
  return iv;
}

export function encryptSecret(key: Uint8Array, name: string, secret: string, random: RandomBytes = randomBytes): Promise<EncryptedSecret> {
  return encryptBytes(key, name, utf8(secret), newIv(random));
}

/** Throws SecretDecryptionError when the MAC does not verify (wrong key or changed ciphertext). */
export async function decryptSecret(key: Uint8Array, name: string, encrypted: EncryptedSecret): Promise<string> {
  let iv: Uint8Array, ciphertext: Uint8Array, tag: Uint8Array;
  try {
    iv = fromBase64(encrypted.iv);
    ciphertext = fromBase64(encrypted.ciphertext);
    tag = fromBase64(encrypted.mac);
  } catch {
    throw new SecretDecryptionError(name);
  }
  const { aes, mac } = deriveKeys(key, name);
  try {
    if (iv.length !== 16 || !equalBytes(hmac(sha256, mac, ciphertext), tag)) throw new SecretDecryptionError(name);
    return fromUtf8(await aesCtr(aes, iv, ciphertext, "decrypt"));
  } finally {
    aes.fill(0);
    mac.fill(0);
  }
}

/** The key check: 32 zero bytes encrypted under the name "" with the given IV. */
async function keyCheck(key: Uint8Array, iv: Uint8Array): Promise<{ iv: string; mac: string }> {
  const { iv: ivText, mac } = await encryptBytes(key, "", new Uint8Array(32), iv);
  return { iv: ivText, mac };
}

/** A new key description (with its check, and how to derive it from a passphrase when one is used). */
export async function describeKey(key: Uint8Array, options: { passphrase?: PassphraseInfo; name?: string; random?: RandomBytes } = {}): Promise<KeyDescription> {
  const check = await keyCheck(key, newIv(options.random ?? randomBytes));
  return { algorithm: AES_HMAC_SHA2, ...check, ...(options.passphrase ? { passphrase: options.passphrase } : {}), ...(options.name ? { name: options.name } : {}) };
}

/**
 * Throws WrongRecoveryKeyError unless `key` passes the description's check, RecoverySetupError for an
 * algorithm other than aes-hmac-sha2. A description without a check cannot be verified: refused too.
 */
export async function checkKey(keyId: string, key: Uint8Array, description: KeyDescription): Promise<void> {
  if (description?.algorithm !== AES_HMAC_SHA2) throw new RecoverySetupError(`secret storage key ${keyId} uses ${String(description?.algorithm)}, not ${AES_HMAC_SHA2}`);
  if (typeof description.iv !== "string" || typeof description.mac !== "string") throw new RecoverySetupError(`secret storage key ${keyId} has no key check (iv, mac)`);
  let iv: Uint8Array, expected: Uint8Array;
  try {
    iv = fromBase64(description.iv);
    expected = fromBase64(description.mac);
  } catch {
    throw new RecoverySetupError(`secret storage key ${keyId} has an undecodable key check`);
  }
  if (iv.length !== 16) throw new RecoverySetupError(`secret storage key ${keyId} has a key check IV of ${iv.length} bytes`);
  const actual = fromBase64((await keyCheck(key, iv)).mac);
  if (!equalBytes(actual, expected)) throw new WrongRecoveryKeyError(keyId);
}

/** m.pbkdf2: PBKDF2-SHA-512 of the passphrase with the description's salt (as UTF-8) and iterations. */
export async function keyFromPassphrase(passphrase: string, info: PassphraseInfo): Promise<Uint8Array> {
  if (info?.algorithm !== "m.pbkdf2" || typeof info.salt !== "string" || !Number.isInteger(info.iterations) || info.iterations < 1) {
    throw new RecoverySetupError("the secret storage key's passphrase settings are not m.pbkdf2 with a salt and iterations");
  }
  const bits = info.bits ?? 256;
  if (bits % 8 !== 0 || bits < 128 || bits > 512) throw new RecoverySetupError(`m.pbkdf2 bits ${bits} is not supported`);
  return pbkdf2Async(sha512, utf8(passphrase), utf8(info.salt), { c: info.iterations, dkLen: bits / 8 });
}

/** New passphrase settings: a 32-character random salt and 500,000 iterations (Element's default). */
export function newPassphraseInfo(random: RandomBytes = randomBytes, iterations = 500_000): PassphraseInfo {
  return { algorithm: "m.pbkdf2", salt: toBase64(random(24)), iterations, bits: 256 };
}
