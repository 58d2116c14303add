/**
 * The Olm account: identity keys, signed device keys, one-time and fallback keys.
 * https://spec.matrix.org/v1.19/client-server-api/#device-keys
 * https://spec.matrix.org/v1.19/client-server-api/#one-time-and-fallback-keys
 * https://spec.matrix.org/v1.19/client-server-api/#uploading-keys
 *
 * Order (docs/PROTOCOL.md "Device keys" and "One-time and fallback keys"):
 *   1. create the account once per device and PERSIST the pickle before anything is uploaded
 *      (Synapse refuses a re-upload of an OTK id with different key material);
 *   2. generate keys, persist, then build keys/upload from the still-unpublished keys;
 *   3. after the upload succeeds, mark_keys_as_published and persist again.
 * A retried upload sends byte-identical keys, which Synapse accepts.
 */
import type { AccountObj, IdentityKeys } from "./backend.js";
import { signingPayload } from "./canonical-json.js";

export const OLM_ALGORITHM = "m.olm.v1.curve25519-aes-sha2";
export const MEGOLM_ALGORITHM = "m.megolm.v1.aes-sha2";
export const SIGNED_CURVE25519 = "signed_curve25519";
/** An hour after a new fallback key, the previous one is forgotten (spec warning on fallback keys). */
export const FORGET_OLD_FALLBACK_AFTER_MS = 60 * 60 * 1000;

export interface AccountRecord {
  userId: string;
  deviceId: string;
  pickle: string;
  deviceKeysUploaded: boolean;
  /** Server count of our signed_curve25519 OTKs, from the last upload response or sync. */
  serverOtkCount?: number;
  /** When we last replaced the fallback key, to forget the old one an hour later. */
  fallbackRotatedAt?: number;
}

/** "Signing JSON": sign the canonical form and add signatures[userId]["ed25519:DEVICE"]. */
export function signJson<T extends Record<string, unknown>>(account: AccountObj, obj: T, userId: string, deviceId: string): T {
  const sig = account.sign(signingPayload(obj));
  const signatures = { ...((obj.signatures as Record<string, Record<string, string>> | undefined) ?? {}) };
  signatures[userId] = { ...(signatures[userId] ?? {}), [`ed25519:${deviceId}`]: sig };
  return { ...obj, signatures };
}

/** DeviceKeys: https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3keysupload */
export function deviceKeys(account: AccountObj, ids: IdentityKeys, userId: string, deviceId: string): Record<string, unknown> {
  return signJson(
    account,
    {
      user_id: userId,
      device_id: deviceId,
      algorithms: [OLM_ALGORITHM, MEGOLM_ALGORITHM],
      keys: { [`curve25519:${deviceId}`]: ids.curve25519, [`ed25519:${deviceId}`]: ids.ed25519 },
    },
    userId,
    deviceId,
  );
}

/** How many OTKs to generate so the server holds half of what the account can keep (as libolm clients do). */
export function oneTimeKeysToGenerate(account: AccountObj, serverCount: number): number {
  const target = Math.floor(account.maxNumberOfOneTimeKeys() / 2);
  const unpublished = Object.keys(account.oneTimeKeys()).length;
  return Math.max(0, target - serverCount - unpublished);
}

/**
 * The keys/upload body from the account's unpublished keys, or undefined if there is nothing to send.
 * One-time keys: "signed_curve25519:<id>": {key, signatures}; fallback keys carry `fallback: true`
 * inside the signed object.
 */
export function keysUploadBody(
  account: AccountObj,
  ids: IdentityKeys,
  rec: AccountRecord,
): Record<string, unknown> | undefined {
  const body: Record<string, unknown> = {};
  if (!rec.deviceKeysUploaded) body.device_keys = deviceKeys(account, ids, rec.userId, rec.deviceId);
  const otks = account.oneTimeKeys();
  if (Object.keys(otks).length > 0) {
    body.one_time_keys = Object.fromEntries(
      Object.entries(otks).map(([id, key]) => [`${SIGNED_CURVE25519}:${id}`, signJson(account, { key }, rec.userId, rec.deviceId)]),
    );
  }
  const fallback = account.unpublishedFallbackKey();
  if (Object.keys(fallback).length > 0) {
    body.fallback_keys = Object.fromEntries(
      Object.entries(fallback).map(([id, key]) => [
        `${SIGNED_CURVE25519}:${id}`,
        signJson(account, { key, fallback: true }, rec.userId, rec.deviceId),
      ]),
    );
  }
  return Object.keys(body).length > 0 ? body : undefined;
}
