/**
 * Our cross-signing keys (https://spec.matrix.org/v1.19/client-server-api/#cross-signing), sans-IO:
 * the master, self-signing and user-signing Ed25519 keys, their private seeds kept only in the sealed
 * store ("cross-signing/keys"), and the bodies that publish them and sign our device.
 *
 *   1. createCrossSigningKeys: three random 32-byte seeds, made once per account and persisted before
 *      anything is uploaded (a later upload must send the same public keys);
 *   2. deviceSigningUploadBody: POST /keys/device_signing/upload
 *      (https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3keysdevice_signingupload):
 *      master_key, and self_signing_key / user_signing_key each signed by the master key;
 *   3. deviceSignatureBody: POST /keys/signatures/upload
 *      (https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3keyssignaturesupload):
 *      our device keys signed by the self-signing key.
 * Not yet wired to the HTTP layer (user-interactive auth, bootstrap on first use, CLI): see README.md
 * "Doubts and limits". The seeds are never logged; crossSigningSecrets() hands them to key backup.
 */
import type { CryptoBackend } from "./backend.js";
import { fromBase64, toBase64 } from "./bytes.js";
import { signingPayload } from "./canonical-json.js";
import type { RandomBytes, SealedStore } from "./store.js";

/** Unpadded base64 private seeds, the form secret storage keeps them in (m.cross_signing.*). */
export interface CrossSigningSecrets {
  master: string;
  self_signing: string;
  user_signing: string;
}

export interface CrossSigningPublicKeys {
  master: string;
  self_signing: string;
  user_signing: string;
}

const RECORD = "cross-signing/keys";
const USAGES = ["master", "self_signing", "user_signing"] as const;
type Usage = (typeof USAGES)[number];

export function loadCrossSigningSecrets(store: SealedStore): Promise<CrossSigningSecrets | undefined> {
  return store.get<CrossSigningSecrets>(RECORD);
}

/** Step 1: the existing keys, or new ones (stored; the caller flushes before uploading). */
export async function createCrossSigningKeys(store: SealedStore, random: RandomBytes): Promise<CrossSigningSecrets> {
  const existing = await loadCrossSigningSecrets(store);
  if (existing) return existing;
  const fresh: CrossSigningSecrets = { master: toBase64(random(32)), self_signing: toBase64(random(32)), user_signing: toBase64(random(32)) };
  store.set(RECORD, fresh);
  return fresh;
}

function withKey<R>(backend: CryptoBackend, seed: string, fn: (k: { publicKey: string; sign(m: string): string }) => R): R {
  const bytes = fromBase64(seed);
  const key = backend.signingKeyFromSeed(bytes);
  try {
    return fn(key);
  } finally {
    key.free();
    bytes.fill(0);
  }
}

export function crossSigningPublicKeys(backend: CryptoBackend, secrets: CrossSigningSecrets): CrossSigningPublicKeys {
  const out = {} as CrossSigningPublicKeys;
  for (const u of USAGES) out[u] = withKey(backend, secrets[u], (k) => k.publicKey);
  return out;
}

/** Adds `signer`'s signature of `obj` (signing JSON: without signatures/unsigned) under `userId`. */
function signed(backend: CryptoBackend, seed: string, userId: string, obj: Record<string, unknown>): Record<string, unknown> {
  return withKey(backend, seed, (k) => {
    const sig = k.sign(signingPayload(obj));
    const prior = (obj.signatures ?? {}) as Record<string, Record<string, string>>;
    return { ...obj, signatures: { ...prior, [userId]: { ...(prior[userId] ?? {}), [`ed25519:${k.publicKey}`]: sig } } };
  });
}

function keyObject(userId: string, usage: Usage, publicKey: string): Record<string, unknown> {
  return { user_id: userId, usage: [usage], keys: { [`ed25519:${publicKey}`]: publicKey } };
}

/** Step 2. */
export function deviceSigningUploadBody(backend: CryptoBackend, userId: string, secrets: CrossSigningSecrets): Record<string, unknown> {
  const pub = crossSigningPublicKeys(backend, secrets);
  return {
    master_key: keyObject(userId, "master", pub.master),
    self_signing_key: signed(backend, secrets.master, userId, keyObject(userId, "self_signing", pub.self_signing)),
    user_signing_key: signed(backend, secrets.master, userId, keyObject(userId, "user_signing", pub.user_signing)),
  };
}

/** Step 3: `deviceKeys` is our device's signed device_keys object as uploaded. */
export function deviceSignatureBody(backend: CryptoBackend, userId: string, deviceId: string, deviceKeys: Record<string, unknown>, secrets: CrossSigningSecrets): Record<string, unknown> {
  const { unsigned: _u, ...keys } = deviceKeys;
  return { [userId]: { [deviceId]: signed(backend, secrets.self_signing, userId, keys) } };
}
