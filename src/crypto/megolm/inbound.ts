/**
 * Inbound Megolm sessions: accepting m.room_key and m.forwarded_room_key, stored by (room_id, session_id).
 * https://spec.matrix.org/v1.19/client-server-api/#mroom_key
 * https://spec.matrix.org/v1.19/client-server-api/#mforwarded_room_key
 *
 *   1. a room key is accepted only from an Olm-decrypted to-device event whose payload passed the
 *      Olm checks (the caller guarantees this; a plaintext m.room_key is refused in machine.ts with
 *      UnencryptedRoomKeyError);
 *   2. algorithm is m.megolm.v1.aes-sha2, room_id/session_id/session_key are strings -> MalformedEventError
 *   3. the session built from session_key has the claimed session_id         -> SessionIdMismatchError
 *   4. an existing session is replaced only by one with a lower first known index (spec: "the new
 *      session key has a lower message index than the existing session key").
 *   Never looked up by the deprecated sender_key/device_id (spec v1.3 note).
 */
import { MEGOLM_ALGORITHM } from "../account.js";
import { BackendError, type CryptoBackend, type InboundGroupSessionObj } from "../backend.js";
import { MalformedEventError, SessionIdMismatchError, UnsupportedAlgorithmError } from "../errors.js";
import type { SealedStore } from "../store.js";

export interface InboundGroupRecord {
  roomId: string;
  sessionId: string;
  pickle: string;
  /** curve25519 key of the device that created the session. */
  senderKey: string;
  /** ed25519 key that device claimed (from the Olm payload's keys.ed25519, or the forwarder's claim). */
  claimedEd25519?: string;
  /** User who shared it with us; room events using it must come from this user. */
  senderUserId?: string;
  firstKnownIndex: number;
  forwarded: boolean;
  forwardingChain: string[];
  /** The sender marked it shareable with later members (m.room_key / backup `shared_history`, spec v1.19). */
  sharedHistory?: boolean;
  /** message index -> JSON [event_id, origin_server_ts] of the first event that used it (replay guard). */
  seen: Record<string, string>;
}

const name = (roomId: string, sessionId: string) => `megolm-in/${roomId}/${sessionId}`;

/** Store names of room keys not yet in the server-side backup (../backup/room-key-backup.ts). */
export const PENDING_BACKUP = "backup-pending/";

export interface PendingBackupMark {
  roomId: string;
  sessionId: string;
  /** The first known index when marked: a later, better copy is marked again. */
  index: number;
}

export interface RoomKeyFields {
  roomId: string;
  sessionId: string;
  sessionKey: string;
}

/** Step 2 for m.room_key and m.forwarded_room_key content. */
export function roomKeyFields(content: Record<string, unknown>): RoomKeyFields {
  if (content.algorithm !== MEGOLM_ALGORITHM) throw new UnsupportedAlgorithmError(content.algorithm);
  const { room_id, session_id, session_key } = content;
  if (typeof room_id !== "string" || typeof session_id !== "string" || typeof session_key !== "string") {
    throw new MalformedEventError("room key room_id/session_id/session_key");
  }
  return { roomId: room_id, sessionId: session_id, sessionKey: session_key };
}

export class InboundGroupSessions {
  constructor(
    private readonly store: SealedStore,
    private readonly backend: CryptoBackend,
    private readonly pickleKey: Uint8Array,
  ) {}

  get(roomId: string, sessionId: string): Promise<InboundGroupRecord | undefined> {
    return this.store.get<InboundGroupRecord>(name(roomId, sessionId));
  }

  put(rec: InboundGroupRecord): void {
    this.store.set(name(rec.roomId, rec.sessionId), rec);
  }

  unpickle(rec: InboundGroupRecord): InboundGroupSessionObj {
    return this.backend.unpickleInboundGroupSession(this.pickleKey, rec.pickle);
  }

  /** The session in the export format, from `index` (backup, forwarding). */
  exportAt(rec: InboundGroupRecord, index: number): string {
    const s = this.unpickle(rec);
    try {
      return s.exportAt(index);
    } finally {
      s.free();
    }
  }

  /**
   * Steps 3–4: build the session (from a room key or an exported forwarded key), check its id and
   * store it unless we already hold it from an equal or lower index. Returns whether it was stored.
   * A stored session is marked for the key backup in the same flush, unless it came from the backup.
   */
  async offer(
    fields: RoomKeyFields,
    exported: boolean,
    meta: Omit<InboundGroupRecord, "roomId" | "sessionId" | "pickle" | "firstKnownIndex" | "seen">,
    options: { backedUp?: boolean } = {},
  ): Promise<boolean> {
    let s: InboundGroupSessionObj;
    try {
      s = exported ? this.backend.importInboundGroupSession(fields.sessionKey) : this.backend.inboundGroupSessionFromKey(fields.sessionKey);
    } catch (e) {
      throw new MalformedEventError(`session_key not usable (${e instanceof BackendError ? e.kind : "error"})`);
    }
    try {
      const actual = s.sessionId();
      if (actual !== fields.sessionId) throw new SessionIdMismatchError(fields.sessionId, actual);
      const firstKnownIndex = s.firstKnownIndex();
      const existing = await this.get(fields.roomId, fields.sessionId);
      if (existing && existing.firstKnownIndex <= firstKnownIndex) return false;
      this.put({
        ...meta,
        roomId: fields.roomId,
        sessionId: fields.sessionId,
        pickle: s.pickle(this.pickleKey),
        firstKnownIndex,
        // Keep the replay record across a replacement: an index seen before stays bound to its event.
        seen: existing?.seen ?? {},
      });
      const mark: PendingBackupMark = { roomId: fields.roomId, sessionId: fields.sessionId, index: firstKnownIndex };
      if (!options.backedUp) this.store.set(`${PENDING_BACKUP}${fields.roomId}/${fields.sessionId}`, mark);
      return true;
    } finally {
      s.free();
    }
  }
}
