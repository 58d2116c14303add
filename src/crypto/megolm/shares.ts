/**
 * Delivery bookkeeping for m.room_key shares (docs: src/crypto/README.md "Who gets room keys").
 *
 * A device counts as having a room key only once the to-device request carrying it was sent:
 *   1. shareRoomKey builds the Olm-encrypted request and persists it here as pending (record
 *      "megolm-pending"), together with the devices it reaches and the message index it starts at;
 *   2. markShareSent (the machine's markRequestAsSent) moves those devices into the outbound
 *      session's sharedWith and into the session's share record ("megolm-shared/<session id>"),
 *      which key forwarding consults later;
 *   3. after a restart the machine lists every pending share again from outgoingRequests(), with the
 *      same body and txnId (the server deduplicates a resend), so no reader is left without the key.
 */
import { MEGOLM_ALGORITHM } from "../account.js";
import { using } from "../backend.js";
import type { CryptoContext } from "../context.js";
import { olmEncrypt } from "../olm/encrypt.js";
import { toDeviceRequests, type ToDeviceRequest } from "../requests.js";
import { currentOrNew, getOutbound, putOutbound, type RotationSettings } from "./outbound.js";

export interface ShareTarget {
  userId: string;
  deviceId: string;
  curve25519: string;
}

export interface PendingShare {
  roomId: string;
  sessionId: string;
  /** The outbound session's message index when the key was exported (the device can read from here). */
  index: number;
  devices: ShareTarget[];
  request: ToDeviceRequest;
}

/** userId -> deviceId -> the curve25519 key and index the session was delivered at. */
export type SessionShares = Record<string, Record<string, { curve25519: string; index: number }>>;

const PENDING = "megolm-pending";
const shared = (sessionId: string) => `megolm-shared/${sessionId}`;

export async function pendingShares(ctx: CryptoContext): Promise<Record<string, PendingShare>> {
  return (await ctx.store.get<Record<string, PendingShare>>(PENDING)) ?? {};
}

export async function addPendingShares(ctx: CryptoContext, shares: PendingShare[]): Promise<void> {
  if (shares.length === 0) return;
  const all = await pendingShares(ctx);
  for (const s of shares) all[s.request.id] = s;
  ctx.store.set(PENDING, all);
}

/** Devices with a share of this session still unsent (not to be encrypted for twice). */
export async function pendingDevices(ctx: CryptoContext, sessionId: string): Promise<Set<string>> {
  const out = new Set<string>();
  for (const s of Object.values(await pendingShares(ctx))) {
    if (s.sessionId === sessionId) for (const d of s.devices) out.add(`${d.userId}|${d.deviceId}|${d.curve25519}`);
  }
  return out;
}

/** Step 2: the request went through. Returns false when `requestId` is no pending share. */
export async function markShareSent(ctx: CryptoContext, requestId: string): Promise<boolean> {
  const all = await pendingShares(ctx);
  const share = all[requestId];
  if (!share) return false;
  delete all[requestId];
  ctx.store.set(PENDING, all);
  const rec = await getOutbound(ctx, share.roomId);
  if (rec && rec.sessionId === share.sessionId) {
    const sharedWith = structuredClone(rec.sharedWith);
    for (const d of share.devices) (sharedWith[d.userId] ??= {})[d.deviceId] = d.curve25519;
    putOutbound(ctx, { ...rec, sharedWith });
  }
  const book = (await sessionShares(ctx, share.sessionId)) ?? {};
  for (const d of share.devices) (book[d.userId] ??= {})[d.deviceId] = { curve25519: d.curve25519, index: share.index };
  ctx.store.set(shared(share.sessionId), book);
  return true;
}

/** To whom (and from which index) this session of ours was delivered; undefined if it is not ours. */
export function sessionShares(ctx: CryptoContext, sessionId: string): Promise<SessionShares | undefined> {
  return ctx.store.get<SessionShares>(shared(sessionId));
}

/**
 * outbound.ts steps 1-2, then m.room_key Olm-encrypted to every device of every user (our own other
 * devices included, our own device not) that has neither had it nor has a share of it pending.
 * Devices without an Olm session are skipped (call getMissingSessions first), and with
 * `excludeInsecureDevices` devices not cross-signed by their owner (MSC4153).
 */
export async function shareRoomKey(ctx: CryptoContext, roomId: string, userIds: string[], settings: RotationSettings): Promise<ToDeviceRequest[]> {
  const users = new Set([...userIds, ctx.userId]);
  const rec = await currentOrNew(ctx, roomId, users, settings);
  const { sessionKey, index } = using(ctx.backend.unpickleOutboundGroupSession(ctx.pickleKey, rec.pickle), (og) => ({ sessionKey: og.sessionKey(), index: og.messageIndex() }));
  const content = { algorithm: MEGOLM_ALGORITHM, room_id: roomId, session_id: rec.sessionId, session_key: sessionKey, shared_history: rec.sharedHistory ?? false };
  const waiting = await pendingDevices(ctx, rec.sessionId);
  const messages: { userId: string; deviceId: string; content: Record<string, unknown> }[] = [];
  const curves = new Map<string, string>();
  for (const userId of [...users].sort()) {
    for (const device of ctx.devices.devicesOf(userId)) {
      if (userId === ctx.userId && device.deviceId === ctx.deviceId) continue;
      if (settings.excludeInsecureDevices === true && device.crossSigned !== true) continue;
      if (rec.sharedWith[userId]?.[device.deviceId] === device.curve25519) continue;
      if (waiting.has(`${userId}|${device.deviceId}|${device.curve25519}`)) continue;
      const encrypted = await olmEncrypt(ctx, device, "m.room_key", content);
      if (!encrypted) continue;
      messages.push({ userId, deviceId: device.deviceId, content: encrypted });
      curves.set(`${userId}|${device.deviceId}`, device.curve25519);
    }
  }
  const requests = toDeviceRequests(ctx.random, "m.room.encrypted", messages);
  await addPendingShares(
    ctx,
    requests.map((request) => ({
      roomId,
      sessionId: rec.sessionId,
      index,
      request,
      devices: Object.entries(request.body.messages).flatMap(([userId, byDevice]) =>
        Object.keys(byDevice).map((deviceId) => ({ userId, deviceId, curve25519: curves.get(`${userId}|${deviceId}`)! })),
      ),
    })),
  );
  return requests;
}
