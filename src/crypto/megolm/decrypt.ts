/**
 * Megolm decryption of an m.room.encrypted room event.
 * https://spec.matrix.org/v1.19/client-server-api/#mmegolmv1aes-sha2
 *
 *   1. algorithm is m.megolm.v1.aes-sha2, session_id and ciphertext are strings
 *   2. look the session up by (room_id, session_id), never by sender_key/device_id -> UnknownSessionError
 *   3. decrypt; below the first known index                                       -> UnknownMessageIndexError
 *   4. plaintext room_id equals the event's room_id (and so the key's room)       -> RoomIdMismatchError
 *   5. the event's sender is the user who shared the session with us              -> SessionSenderMismatchError
 *   6. replay guard: libolm decrypts the same ciphertext any number of times, so remember which
 *      event used each (session, index); the same index with another event_id/origin_server_ts is
 *      refused, decrypting the same event again is allowed                          -> ReplayedMessageIndexError
 */
import { MEGOLM_ALGORITHM } from "../account.js";
import { BackendError } from "../backend.js";
import {
  MalformedEventError,
  MegolmDecryptionError,
  ReplayedMessageIndexError,
  RoomIdMismatchError,
  SessionSenderMismatchError,
  UnknownMessageIndexError,
  UnknownSessionError,
  UnsupportedAlgorithmError,
} from "../errors.js";
import type { InboundGroupSessions } from "./inbound.js";

export interface RoomEvent {
  type: string;
  room_id: string;
  event_id: string;
  sender: string;
  origin_server_ts: number;
  content: Record<string, unknown>;
}

export interface DecryptedRoomEvent {
  type: string;
  content: Record<string, unknown>;
  senderCurve25519: string;
  claimedEd25519?: string;
  forwarded: boolean;
  messageIndex: number;
}

export async function megolmDecrypt(inbound: InboundGroupSessions, event: RoomEvent): Promise<DecryptedRoomEvent> {
  // 1.
  const c = event.content;
  if (c.algorithm !== MEGOLM_ALGORITHM) throw new UnsupportedAlgorithmError(c.algorithm);
  if (typeof c.session_id !== "string" || typeof c.ciphertext !== "string") throw new MalformedEventError("session_id/ciphertext");
  const sessionId = c.session_id;
  // 2.
  const rec = await inbound.get(event.room_id, sessionId);
  if (!rec) throw new UnknownSessionError(event.room_id, sessionId, typeof c.sender_key === "string" ? c.sender_key : undefined);
  // 3.
  let messageIndex: number;
  let plaintext: string;
  const s = inbound.unpickle(rec);
  try {
    ({ messageIndex, plaintext } = s.decrypt(c.ciphertext));
  } catch (e) {
    if (e instanceof BackendError && e.kind === "UnknownIndex") {
      throw new UnknownMessageIndexError(event.room_id, sessionId, rec.firstKnownIndex);
    }
    throw new MegolmDecryptionError(sessionId, e);
  } finally {
    s.free();
  }
  let payload: { type?: unknown; content?: unknown; room_id?: unknown };
  try {
    payload = JSON.parse(plaintext) as typeof payload;
  } catch {
    throw new MalformedEventError("megolm plaintext is not JSON");
  }
  if (typeof payload.type !== "string" || typeof payload.content !== "object" || payload.content === null) {
    throw new MalformedEventError("megolm plaintext type/content");
  }
  // 4.
  if (payload.room_id !== event.room_id || rec.roomId !== event.room_id) throw new RoomIdMismatchError(event.room_id, payload.room_id);
  // 5.
  if (rec.senderUserId !== undefined && rec.senderUserId !== event.sender) {
    throw new SessionSenderMismatchError(event.sender, rec.senderUserId);
  }
  // 6.
  const marker = JSON.stringify([event.event_id, event.origin_server_ts]);
  const first = rec.seen[String(messageIndex)];
  if (first !== undefined && first !== marker) {
    throw new ReplayedMessageIndexError(sessionId, messageIndex, String((JSON.parse(first) as unknown[])[0]));
  }
  if (first === undefined) inbound.put({ ...rec, seen: { ...rec.seen, [String(messageIndex)]: marker } });
  return {
    type: payload.type,
    content: payload.content as Record<string, unknown>,
    senderCurve25519: rec.senderKey,
    ...(rec.claimedEd25519 !== undefined ? { claimedEd25519: rec.claimedEd25519 } : {}),
    forwarded: rec.forwarded,
    messageIndex,
  };
}
