/**
 * Olm encryption of one to-device event for one device.
 * https://spec.matrix.org/v1.19/client-server-api/#mmolmv1curve25519-aes-sha2
 *
 *   1. build the plaintext payload: type, content, sender, recipient, recipient_keys.ed25519 (theirs),
 *      keys.ed25519 (ours); plus `sender_device`, which is not in the spec but nio/js-sdk send it;
 *   2. encrypt with the session that most recently received a message (type 0 until it has);
 *   3. wrap as m.room.encrypted content: {algorithm, sender_key, ciphertext: {theirCurve: {type, body}}}.
 */
import { OLM_ALGORITHM } from "../account.js";
import type { CryptoContext } from "../context.js";
import type { DeviceRecord } from "../devices.js";

export async function olmEncrypt(
  ctx: CryptoContext,
  device: DeviceRecord,
  type: string,
  content: Record<string, unknown>,
): Promise<Record<string, unknown> | undefined> {
  // 1.
  const payload = {
    type,
    content,
    sender: ctx.userId,
    sender_device: ctx.deviceId,
    recipient: device.userId,
    recipient_keys: { ed25519: device.ed25519 },
    keys: { ed25519: ctx.ids.ed25519 },
  };
  // 2.
  const message = await ctx.olm.withPreferred(device.curve25519, ctx.now(), (s) => s.encrypt(JSON.stringify(payload)));
  if (!message) return undefined;
  // 3.
  return {
    algorithm: OLM_ALGORITHM,
    sender_key: ctx.ids.curve25519,
    ciphertext: { [device.curve25519]: { type: message.type, body: message.body } },
  };
}
