/**
 * The machine's half of server-side key backup (https://spec.matrix.org/v1.19/client-server-api/#server-side-key-backups):
 * which room keys still have to be uploaded, the upload bodies, and importing a downloaded backup.
 * No I/O: src/db sends the bodies. State lives in the sealed store:
 *   backup                       {version, publicKey, privateKey?}: the backup this device uploads to
 *   backup-pending/<room>/<id>   {roomId, sessionId, index}: a room key not yet in that backup;
 *                                written in the same flush as the session (megolm/inbound.ts offer()),
 *                                so a restart resends it.
 */
import { signJson } from "../account.js";
import { MEGOLM_ALGORITHM } from "../account.js";
import { fromBase64, toBase64 } from "../bytes.js";
import type { CryptoContext } from "../context.js";
import { CryptoError } from "../errors.js";
import { PENDING_BACKUP, type PendingBackupMark } from "../megolm/inbound.js";
import { RecoverySetupError } from "./errors.js";
import { BACKUP_ALGORITHM, decryptSessionData, encryptSessionData, type KeyBackupData, type RoomKeysBody } from "./session-data.js";

const RECORD = "backup";

export interface BackupRecord {
  version: string;
  publicKey: string;
  /** Unpadded base64; kept when this device made or restored the backup. */
  privateKey?: string;
}

/** One upload: the PUT /room_keys/keys body and the marks it clears once sent. */
export interface BackupBatch {
  version: string;
  body: RoomKeysBody;
  marks: PendingBackupMark[];
}

export interface ImportResult {
  imported: number;
  /** Sessions we already held from an equal or lower index. */
  kept: number;
  failed: CryptoError[];
}

/** GET /room_keys/keys as received: each session_data is checked when it is decrypted. */
export interface DownloadedKeys {
  rooms?: Record<string, { sessions?: Record<string, { session_data?: unknown }> }>;
}

type Exclusive = <R>(fn: () => Promise<R>) => Promise<R>;

export class RoomKeyBackup {
  constructor(
    private readonly ctx: CryptoContext,
    private readonly exclusive: Exclusive,
  ) {}

  /** A new backup key pair: the private key (32 random bytes) and the signed auth_data for POST /room_keys/version. */
  newBackupKey(): { privateKey: Uint8Array; publicKey: string; authData: Record<string, unknown> } {
    const privateKey = this.ctx.random(32);
    const publicKey = this.ctx.backend.pkPublicKey(privateKey);
    return { privateKey, publicKey, authData: this.authData(publicKey) };
  }

  /** auth_data signed by this device (others may check it against our device keys). */
  authData(publicKey: string): Record<string, unknown> {
    return signJson(this.ctx.account, { public_key: publicKey }, this.ctx.userId, this.ctx.deviceId);
  }

  /** The public key of a private key, to compare with a backup version's auth_data. */
  publicKeyOf(privateKey: Uint8Array): string {
    return this.ctx.backend.pkPublicKey(privateKey);
  }

  /**
   * Upload to `version` from now on. A version other than the stored one marks every room key we
   * hold as pending (a new backup starts empty); the same one keeps the marks.
   */
  enable(version: string, publicKey: string, privateKey?: Uint8Array): Promise<void> {
    return this.exclusive(async () => {
      const { store } = this.ctx;
      const old = await store.get<BackupRecord>(RECORD);
      if (privateKey && this.ctx.backend.pkPublicKey(privateKey) !== publicKey) throw new RecoverySetupError(`backup version ${version}: the private key does not match its public key`);
      const rec: BackupRecord = { version, publicKey, ...(privateKey ? { privateKey: toBase64(privateKey, { pad: false }) } : old?.version === version && old.privateKey ? { privateKey: old.privateKey } : {}) };
      store.set(RECORD, rec);
      if (old?.version === version) return;
      for (const name of await store.names("megolm-in/")) {
        const s = await store.get<{ roomId: string; sessionId: string; firstKnownIndex: number }>(name);
        if (s) store.set(`${PENDING_BACKUP}${s.roomId}/${s.sessionId}`, { roomId: s.roomId, sessionId: s.sessionId, index: s.firstKnownIndex } satisfies PendingBackupMark);
      }
    });
  }

  /** The backup this device uploads to, and how many room keys wait for it (undefined: none). */
  status(): Promise<{ version: string; publicKey: string; hasPrivateKey: boolean; pending: number } | undefined> {
    return this.exclusive(async () => {
      const rec = await this.ctx.store.get<BackupRecord>(RECORD);
      if (!rec) return undefined;
      return { version: rec.version, publicKey: rec.publicKey, hasPrivateKey: rec.privateKey !== undefined, pending: (await this.ctx.store.names(PENDING_BACKUP)).length };
    });
  }

  /** The stored backup private key (to put it in secret storage again), if this device has it. */
  privateKey(): Promise<Uint8Array | undefined> {
    return this.exclusive(async () => {
      const rec = await this.ctx.store.get<BackupRecord>(RECORD);
      return rec?.privateKey !== undefined ? fromBase64(rec.privateKey) : undefined;
    });
  }

  /** Up to `limit` pending room keys, encrypted for the backup; undefined when none wait or no backup is set. */
  nextBatch(limit = 100): Promise<BackupBatch | undefined> {
    return this.exclusive(async () => {
      const { ctx } = this;
      const rec = await ctx.store.get<BackupRecord>(RECORD);
      if (!rec) return undefined;
      const body: RoomKeysBody = { rooms: {} };
      const marks: PendingBackupMark[] = [];
      for (const name of (await ctx.store.names(PENDING_BACKUP)).slice(0, limit)) {
        const mark = await ctx.store.get<PendingBackupMark>(name);
        const s = mark && (await ctx.inbound.get(mark.roomId, mark.sessionId));
        if (!mark || !s) {
          ctx.store.delete(name);
          continue;
        }
        const sessionKey = ctx.inbound.exportAt(s, s.firstKnownIndex);
        const data: KeyBackupData = {
          first_message_index: s.firstKnownIndex,
          forwarded_count: s.forwardingChain.length,
          // Our own sessions are the only ones whose origin we know first-hand.
          is_verified: s.senderKey === ctx.ids.curve25519 && !s.forwarded,
          session_data: encryptSessionData(ctx.backend, rec.publicKey, {
            algorithm: MEGOLM_ALGORITHM,
            sender_key: s.senderKey,
            sender_claimed_keys: s.claimedEd25519 !== undefined ? { ed25519: s.claimedEd25519 } : {},
            forwarding_curve25519_key_chain: s.forwardingChain,
            session_key: sessionKey,
            shared_history: s.sharedHistory === true,
          }),
        };
        ((body.rooms[s.roomId] ??= { sessions: {} }).sessions[s.sessionId] = data);
        marks.push({ ...mark, index: s.firstKnownIndex });
      }
      return marks.length > 0 ? { version: rec.version, body, marks } : undefined;
    });
  }

  /** The batch reached the server: clear its marks (unless the session was replaced meanwhile). */
  markBackedUp(batch: BackupBatch): Promise<void> {
    return this.exclusive(async () => {
      const rec = await this.ctx.store.get<BackupRecord>(RECORD);
      if (rec?.version !== batch.version) return;
      for (const m of batch.marks) {
        const name = `${PENDING_BACKUP}${m.roomId}/${m.sessionId}`;
        const now = await this.ctx.store.get<PendingBackupMark>(name);
        if (now && now.index >= m.index) this.ctx.store.delete(name);
      }
    });
  }

  /**
   * Import a downloaded backup (GET /room_keys/keys) with its private key. Sessions are offered like
   * forwarded keys (kept only from a lower first index) and not marked pending: they are in the backup.
   */
  importBackup(privateKey: Uint8Array, body: DownloadedKeys): Promise<ImportResult> {
    return this.exclusive(async () => {
      const { ctx } = this;
      const result: ImportResult = { imported: 0, kept: 0, failed: [] };
      for (const [roomId, room] of Object.entries(body?.rooms ?? {})) {
        for (const [sessionId, entry] of Object.entries(room?.sessions ?? {})) {
          try {
            const data = decryptSessionData(ctx.backend, privateKey, roomId, sessionId, entry?.session_data);
            const stored = await ctx.inbound.offer({ roomId, sessionId, sessionKey: data.session_key }, true, {
              senderKey: data.sender_key,
              ...(data.sender_claimed_keys.ed25519 !== undefined ? { claimedEd25519: data.sender_claimed_keys.ed25519 } : {}),
              forwarded: true,
              forwardingChain: data.forwarding_curve25519_key_chain,
              sharedHistory: data.shared_history === true,
            }, { backedUp: true });
            if (stored) result.imported++;
            else result.kept++;
          } catch (e) {
            if (!(e instanceof CryptoError)) throw e;
            result.failed.push(e);
          }
        }
      }
      return result;
    });
  }

  /** Stop uploading (the backup was deleted or replaced by one whose key we do not hold). */
  disable(): Promise<void> {
    return this.exclusive(async () => this.ctx.store.delete(RECORD));
  }
}

export { BACKUP_ALGORITHM };
