/**
 * Checking a user's cross-signing keys from a keys/query response, sans-IO
 * (https://spec.matrix.org/v1.19/client-server-api/#cross-signing,
 *  https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3keysquery `master_keys`,
 *  `self_signing_keys`). For one user:
 *   1. the master key: for this user, usage "master", exactly one ed25519 key  -> MalformedCrossSigningKeyError
 *   2. the master key is trusted:
 *        our own user: it is the key whose private half this device holds (made or restored, pinned by
 *        the machine), or it carries a valid signature by this device's ed25519 key; else untrusted
 *        (another client's, or a homeserver's, until `mxdb crypto bootstrap` restores it);
 *        another user: pinned on first sight;
 *      a master key that differs from the pin                                  -> CrossSigningKeyChangedError
 *   3. the self-signing key: usage "self_signing", one key, signed by the master -> CrossSigningSignatureError
 *   4. a device is cross-signed when its device keys carry a valid signature by that self-signing key.
 * The caller has already checked the device's self-signature (devices.ts).
 */
import type { CryptoBackend } from "./backend.js";
import { hasValidSignature } from "./canonical-json.js";
import { CrossSigningKeyChangedError, CrossSigningSignatureError, MalformedCrossSigningKeyError, type CryptoError } from "./errors.js";

export type CrossSigningUsage = "master" | "self_signing" | "user_signing";

/** A user's checked identity: the trusted master key and, if it signed one, the self-signing key. */
export interface CrossSigningIdentity {
  master: string;
  selfSigning?: string;
}

export interface IdentityTrust {
  /** The master key pinned for this user (first seen, or ours). */
  pinned?: string;
  /** Pin a master key seen for the first time (other users); false for our own user. */
  pinOnFirstSight: boolean;
  /** Our device's ed25519 key: a master key it signed is trusted (own user only). */
  ownDevice?: { deviceId: string; ed25519: string };
}

export interface IdentityResult {
  identity?: CrossSigningIdentity;
  /** The master key to pin from now on (unchanged when nothing new was trusted). */
  pin?: string;
  problems: CryptoError[];
}

/** Step 1 (and 3's shape): the one ed25519 public key of a cross-signing key object. */
export function crossSigningPublicKey(raw: unknown, userId: string, usage: CrossSigningUsage): string | CryptoError {
  if (typeof raw !== "object" || raw === null) return new MalformedCrossSigningKeyError(userId, usage, "not an object");
  const obj = raw as Record<string, unknown>;
  if (obj.user_id !== userId) return new MalformedCrossSigningKeyError(userId, usage, `user_id is ${String(obj.user_id)}`);
  if (!Array.isArray(obj.usage) || !obj.usage.includes(usage)) return new MalformedCrossSigningKeyError(userId, usage, `usage is ${JSON.stringify(obj.usage)}`);
  const keys = Object.entries((obj.keys ?? {}) as Record<string, unknown>);
  if (keys.length !== 1) return new MalformedCrossSigningKeyError(userId, usage, `${keys.length} keys, not one`);
  const [keyId, publicKey] = keys[0]!;
  if (typeof publicKey !== "string" || keyId !== `ed25519:${publicKey}`) return new MalformedCrossSigningKeyError(userId, usage, `key id ${keyId} does not name its ed25519 key`);
  return publicKey;
}

/** Steps 1–3 for one user. */
export function verifyIdentity(backend: CryptoBackend, userId: string, masterRaw: unknown, selfSigningRaw: unknown, trust: IdentityTrust): IdentityResult {
  const keep = trust.pinned !== undefined ? { pin: trust.pinned } : {};
  if (masterRaw === undefined) return { ...keep, problems: [] };
  const master = crossSigningPublicKey(masterRaw, userId, "master");
  if (typeof master !== "string") return { ...keep, problems: [master] };
  // 2.
  if (trust.pinned !== undefined && trust.pinned !== master) return { ...keep, problems: [new CrossSigningKeyChangedError(userId, trust.pinned, master)] };
  const signedByUs = trust.ownDevice !== undefined && hasValidSignature(backend, masterRaw as Record<string, unknown>, userId, `ed25519:${trust.ownDevice.deviceId}`, trust.ownDevice.ed25519);
  if (trust.pinned === undefined && !trust.pinOnFirstSight && !signedByUs) return { problems: [] };
  const pin = master;
  // 3.
  if (selfSigningRaw === undefined) return { identity: { master }, pin, problems: [] };
  const selfSigning = crossSigningPublicKey(selfSigningRaw, userId, "self_signing");
  if (typeof selfSigning !== "string") return { identity: { master }, pin, problems: [selfSigning] };
  if (!hasValidSignature(backend, selfSigningRaw as Record<string, unknown>, userId, `ed25519:${master}`, master)) {
    return { identity: { master }, pin, problems: [new CrossSigningSignatureError(userId, "self-signing key (not signed by the master key)")] };
  }
  return { identity: { master, selfSigning }, pin, problems: [] };
}

/** Step 4. */
export function isCrossSigned(backend: CryptoBackend, userId: string, identity: CrossSigningIdentity | undefined, deviceRaw: unknown): boolean {
  const ssk = identity?.selfSigning;
  if (ssk === undefined || typeof deviceRaw !== "object" || deviceRaw === null) return false;
  return hasValidSignature(backend, deviceRaw as Record<string, unknown>, userId, `ed25519:${ssk}`, ssk);
}
