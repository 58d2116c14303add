/**
 * Megolm encryption of one room event with the room's outbound session.
 * https://spec.matrix.org/v1.19/client-server-api/#mmegolmv1aes-sha2
 *
 *   1. the room has a shared outbound session whose rotation is not due    -> NoOutboundSessionError
 *   2. encrypt {type, content, room_id}: the room_id inside stops the server moving the event;
 *   3. persist the advanced ratchet (and its index, which drives rotation_period_msgs);
 *   4. content {algorithm, sender_key, ciphertext, session_id, device_id}: sender_key and device_id
 *      are deprecated since v1.3 but "SHOULD continue to be sent".
 */
import { MEGOLM_ALGORITHM } from "../account.js";
import type { CryptoContext } from "../context.js";
import { NoOutboundSessionError } from "../errors.js";
import { expiryReason, getOutbound, putOutbound } from "./outbound.js";

export async function megolmEncrypt(
  ctx: CryptoContext,
  roomId: string,
  type: string,
  content: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const rec = await getOutbound(ctx, roomId);
  if (!rec) throw new NoOutboundSessionError(roomId, "none");
  const reason = expiryReason(rec, ctx.now());
  if (reason) throw new NoOutboundSessionError(roomId, reason);
  const og = ctx.backend.unpickleOutboundGroupSession(ctx.pickleKey, rec.pickle);
  try {
    const ciphertext = og.encrypt(JSON.stringify({ type, content, room_id: roomId }));
    putOutbound(ctx, { ...rec, pickle: og.pickle(ctx.pickleKey), messageIndex: og.messageIndex() });
    return {
      algorithm: MEGOLM_ALGORITHM,
      sender_key: ctx.ids.curve25519,
      ciphertext,
      session_id: rec.sessionId,
      device_id: ctx.deviceId,
    };
  } finally {
    og.free();
  }
}
