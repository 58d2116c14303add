/**
 * Claiming one-time keys and creating outbound Olm sessions.
 * https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3keysclaim
 *
 *   1. ask for one signed_curve25519 key per device we have no session with;
 *   2. for each returned key: the device is one we asked for and know from keys/query, and the key
 *      object is signed by that device's ed25519 key (a fallback key has `fallback: true` inside the
 *      signed object)                                                     -> BadSignatureError
 *   3. create_outbound(their curve25519, the key) and persist the session.
 */
import type { CryptoContext } from "../context.js";
import { hasValidSignature, type DeviceRecord } from "../devices.js";
import { BadSignatureError, type CryptoError } from "../errors.js";
import { SIGNED_CURVE25519 } from "../account.js";

export const CLAIM_TIMEOUT_MS = 10_000;

export function claimBody(devices: DeviceRecord[]): { one_time_keys: Record<string, Record<string, string>>; timeout: number } {
  const one_time_keys: Record<string, Record<string, string>> = {};
  for (const d of devices) (one_time_keys[d.userId] ??= {})[d.deviceId] = SIGNED_CURVE25519;
  return { one_time_keys, timeout: CLAIM_TIMEOUT_MS };
}

export async function applyClaimResponse(
  ctx: CryptoContext,
  asked: DeviceRecord[],
  response: unknown,
): Promise<{ created: DeviceRecord[]; problems: CryptoError[] }> {
  const created: DeviceRecord[] = [];
  const problems: CryptoError[] = [];
  const otks = ((response ?? {}) as { one_time_keys?: Record<string, Record<string, Record<string, unknown>>> }).one_time_keys ?? {};
  for (const wanted of asked) {
    // 2. Only devices we asked for, with the keys we know now.
    const device = ctx.devices.get(wanted.userId, wanted.deviceId);
    const keys = otks[wanted.userId]?.[wanted.deviceId];
    if (!device || !keys) continue;
    const entry = Object.entries(keys).find(([id]) => id.startsWith(`${SIGNED_CURVE25519}:`));
    if (!entry) continue;
    const [keyId, keyObj] = entry;
    const obj = (keyObj ?? {}) as Record<string, unknown>;
    if (typeof obj.key !== "string" || !hasValidSignature(ctx.backend, obj, device.userId, `ed25519:${device.deviceId}`, device.ed25519)) {
      problems.push(new BadSignatureError(device.userId, device.deviceId, `one-time key ${keyId}`));
      continue;
    }
    // 3.
    const s = ctx.account.createOutboundSession(device.curve25519, obj.key);
    try {
      await ctx.olm.save(device.curve25519, s, ctx.now(), false);
    } finally {
      s.free();
    }
    created.push(device);
  }
  return { created, problems };
}
