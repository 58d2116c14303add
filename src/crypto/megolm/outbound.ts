/**
 * Outbound Megolm sessions: one per room, rotated, shared over Olm.
 * https://spec.matrix.org/v1.19/client-server-api/#mmegolmv1aes-sha2
 * https://spec.matrix.org/v1.19/client-server-api/#mroomencryption (rotation_period_ms / _msgs defaults)
 *
 * shareRoomKey, in order (encryption itself is in ./encrypt.ts):
 *   1. reuse the room's session unless rotation is due: older than rotation_period_ms (default 1 week),
 *      rotation_period_msgs messages sent (default 100), a member it was shared with has left
 *      (onRoomMemberLeft, or a user missing from `users`), or a device it reached has gone;
 *   2. a new session also becomes our own inbound session (from its session_key), so we can read our
 *      own events later, after a restart too;
 *   3. m.room_key {algorithm, room_id, session_id, session_key} is Olm-encrypted to every device of
 *      every user (our own other devices included, our own device not) that has not had it yet;
 *      devices without an Olm session are skipped (call getMissingSessions first).
 *   Step 3 is in ./shares.ts: a device is recorded as reached only once its request was sent.
 */
import { using } from "../backend.js";
import type { CryptoContext } from "../context.js";

export const DEFAULT_ROTATION_PERIOD_MS = 604_800_000;
export const DEFAULT_ROTATION_PERIOD_MSGS = 100;

export interface OutboundGroupRecord {
  roomId: string;
  sessionId: string;
  pickle: string;
  createdAt: number;
  messageIndex: number;
  rotationPeriodMs: number;
  rotationPeriodMsgs: number;
  /** userId -> deviceId -> curve25519 of each device that got the key. */
  sharedWith: Record<string, Record<string, string>>;
  invalidated: boolean;
  /** m.room_key shared_history: created while history visibility was shared or world_readable. */
  sharedHistory?: boolean;
}

export interface RotationSettings {
  rotationPeriodMs?: number;
  rotationPeriodMsgs?: number;
  /**
   * The room's history visibility is shared or world_readable now
   * (https://spec.matrix.org/v1.19/client-server-api/#shareable-encryption-sessions): a session made
   * under the other setting is rotated first.
   */
  sharedHistory?: boolean;
  /**
   * MSC4153 "exclude insecure devices": room keys go only to devices cross-signed by their owner
   * (DeviceRecord.crossSigned); a session already given to a device that no longer is, is rotated first.
   */
  excludeInsecureDevices?: boolean;
}

const name = (roomId: string) => `megolm-out/${roomId}`;

export function getOutbound(ctx: CryptoContext, roomId: string): Promise<OutboundGroupRecord | undefined> {
  return ctx.store.get<OutboundGroupRecord>(name(roomId));
}

export function putOutbound(ctx: CryptoContext, rec: OutboundGroupRecord): void {
  ctx.store.set(name(rec.roomId), rec);
}

/** Why the session cannot be used for another message (time, count, invalidation), if it can't. */
export function expiryReason(rec: OutboundGroupRecord, now: number): string | undefined {
  if (rec.invalidated) return "a member left";
  if (now - rec.createdAt >= rec.rotationPeriodMs) return "rotation_period_ms elapsed";
  if (rec.messageIndex >= rec.rotationPeriodMsgs) return "rotation_period_msgs reached";
  return undefined;
}

/** Step 1 membership part: someone it reached is no longer a member, or one of their devices is gone. */
function membershipChanged(ctx: CryptoContext, rec: OutboundGroupRecord, users: Set<string>, excludeInsecure: boolean): boolean {
  for (const [userId, devices] of Object.entries(rec.sharedWith)) {
    if (!users.has(userId)) return true;
    for (const [deviceId, curve] of Object.entries(devices)) {
      const now = ctx.devices.get(userId, deviceId);
      if (now?.curve25519 !== curve || (excludeInsecure && now.crossSigned !== true)) return true;
    }
  }
  return false;
}

export function invalidateOutbound(ctx: CryptoContext, rec: OutboundGroupRecord | undefined): void {
  if (rec && !rec.invalidated) putOutbound(ctx, { ...rec, invalidated: true });
}

/** Steps 1–2. */
export async function currentOrNew(ctx: CryptoContext, roomId: string, users: Set<string>, settings: RotationSettings): Promise<OutboundGroupRecord> {
  const rec = await getOutbound(ctx, roomId);
  const sharedHistory = settings.sharedHistory ?? false;
  if (rec && expiryReason(rec, ctx.now()) === undefined && !membershipChanged(ctx, rec, users, settings.excludeInsecureDevices === true) && (rec.sharedHistory ?? false) === sharedHistory) return rec;
  const { fresh, sessionKey } = using(ctx.backend.newOutboundGroupSession(), (og) => ({
    sessionKey: og.sessionKey(),
    fresh: {
      roomId,
      sessionId: og.sessionId(),
      pickle: og.pickle(ctx.pickleKey),
      createdAt: ctx.now(),
      messageIndex: og.messageIndex(),
      rotationPeriodMs: settings.rotationPeriodMs ?? DEFAULT_ROTATION_PERIOD_MS,
      rotationPeriodMsgs: settings.rotationPeriodMsgs ?? DEFAULT_ROTATION_PERIOD_MSGS,
      sharedWith: {},
      invalidated: false,
      sharedHistory,
    } satisfies OutboundGroupRecord,
  }));
  await ctx.inbound.offer({ roomId, sessionId: fresh.sessionId, sessionKey }, false, {
    senderKey: ctx.ids.curve25519,
    claimedEd25519: ctx.ids.ed25519,
    senderUserId: ctx.userId,
    forwarded: false,
    forwardingChain: [],
    sharedHistory,
  });
  putOutbound(ctx, fresh);
  return fresh;
}
