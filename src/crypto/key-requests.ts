/**
 * Key sharing between the devices of our own account.
 * https://spec.matrix.org/v1.19/client-server-api/#key-requests
 * https://spec.matrix.org/v1.19/client-server-api/#mroom_key_request
 * https://spec.matrix.org/v1.19/client-server-api/#mforwarded_room_key
 * "Clients should only send keys requested by the verified devices of the same user, and should only
 *  request and accept forwarded keys from verified devices of the same user."
 *
 * Requesting (requestRoomKey): one unencrypted m.room_key_request {action:"request"} to our own other
 * devices, remembered (persisted) until a forwarded key for that session arrives, then cancelled.
 *
 * Answering an incoming request (README.md "Who gets room keys"):
 *   1. from our own user                                              -> UntrustedKeyShareError
 *   2. the requesting device is known (else wait for a keys/query) and trusted -> UntrustedKeyShareError
 *   3. we hold the session (else ignore)
 *   4. the forwarding policy allows this device this session (default: the device is cross-signed
 *      by our identity, or we delivered it this very session, to this curve25519 key, see
 *      megolm/shares.ts)                                               -> UntrustedKeyShareError
 *   5. an Olm session to the device exists (else claim one first)
 *   6. send m.forwarded_room_key over Olm with export_session(first known index), or from the index
 *      the device was given when only the "shared-with" rule lets it have the key (an uncross-signed
 *      device under the default policy, or any device under "shared-with").
 *
 * Accepting m.forwarded_room_key (only ever over Olm; see machine.ts):
 *   1. from one of our own trusted devices                            -> UntrustedKeyShareError
 *   2. for a session we asked for                                     -> UnrequestedForwardedKeyError
 *   3. import_session; replace only from a lower first known index (InboundGroupSessions.offer);
 *   4. cancel our request (request_cancellation).
 */
import { MEGOLM_ALGORITHM } from "./account.js";
import type { CryptoContext } from "./context.js";
import type { DeviceRecord } from "./devices.js";
import { MalformedEventError, UnrequestedForwardedKeyError, UntrustedKeyShareError } from "./errors.js";
import { roomKeyFields } from "./megolm/inbound.js";
import { sessionShares } from "./megolm/shares.js";
import { olmEncrypt } from "./olm/encrypt.js";
import { newId, toDeviceRequests, type ToDeviceRequest } from "./requests.js";

interface OutgoingKeyRequest {
  requestId: string;
  roomId: string;
  sessionId: string;
  senderKey?: string;
  recipients: { userId: string; deviceId: string }[];
}

const OUT = "key-requests/out";

async function outgoing(ctx: CryptoContext): Promise<Record<string, OutgoingKeyRequest>> {
  return (await ctx.store.get<Record<string, OutgoingKeyRequest>>(OUT)) ?? {};
}

function requestMessages(ctx: CryptoContext, rec: OutgoingKeyRequest, action: "request" | "request_cancellation"): ToDeviceRequest[] {
  const content: Record<string, unknown> = { action, requesting_device_id: ctx.deviceId, request_id: rec.requestId };
  if (action === "request") {
    content.body = {
      algorithm: MEGOLM_ALGORITHM,
      room_id: rec.roomId,
      session_id: rec.sessionId,
      ...(rec.senderKey !== undefined ? { sender_key: rec.senderKey } : {}),
    };
  }
  return toDeviceRequests(
    ctx.random,
    "m.room_key_request",
    rec.recipients.map((r) => ({ ...r, content })),
  );
}

/** requestRoomKey: returns the to-device requests to queue, or none if already asked. */
export async function requestRoomKey(
  ctx: CryptoContext,
  roomId: string,
  sessionId: string,
  senderKey: string | undefined,
): Promise<ToDeviceRequest[]> {
  const all = await outgoing(ctx);
  if (Object.values(all).some((r) => r.roomId === roomId && r.sessionId === sessionId)) return [];
  const own = ctx.devices.devicesOf(ctx.userId).filter((d) => d.deviceId !== ctx.deviceId);
  // With no other device known yet, "*" reaches every device of ours the server knows.
  const recipients = own.length > 0 ? own.map((d) => ({ userId: ctx.userId, deviceId: d.deviceId })) : [{ userId: ctx.userId, deviceId: "*" }];
  const rec: OutgoingKeyRequest = { requestId: newId(ctx.random, "kr_"), roomId, sessionId, recipients, ...(senderKey ? { senderKey } : {}) };
  ctx.store.set(OUT, { ...all, [rec.requestId]: rec });
  return requestMessages(ctx, rec, "request");
}

/** What a key request asks for, as the forwarding policy sees it. */
export interface KeyForwardRequest {
  roomId: string;
  sessionId: string;
  /** We delivered this session (one of our outbound sessions) to this very device key. */
  sharedWith: boolean;
}

/**
 * Which of our own devices get a room key they request:
 *   "cross-signed"    (default) devices cross-signed by our identity (cross-signing-verify.ts: signed by
 *                     the self-signing key of the master key this device holds or signed), plus, from
 *                     the index they were given, devices we delivered that session to;
 *   "shared-with"     only devices we delivered that session to (a lost copy comes back);
 *   "all-own-devices" every own device that passes the keys/query checks (before issue 12's default;
 *                     a homeserver or anyone with the password can add such a device);
 *   a function        the caller decides per device and session.
 */
export type KeyForwardingPolicy = "cross-signed" | "shared-with" | "all-own-devices" | ((device: DeviceRecord, request: KeyForwardRequest) => boolean);

function allowed(policy: KeyForwardingPolicy, device: DeviceRecord, request: KeyForwardRequest): boolean {
  if (policy === "cross-signed") return request.sharedWith || device.crossSigned === true;
  if (policy === "shared-with") return request.sharedWith;
  if (policy === "all-own-devices") return true;
  return policy(device, request) === true;
}

export type KeyRequestOutcome =
  | { kind: "answer"; requests: ToDeviceRequest[] }
  | { kind: "wait-for-device" }
  | { kind: "need-olm-session"; device: DeviceRecord }
  | { kind: "ignore" };

export async function answerKeyRequest(
  ctx: CryptoContext,
  sender: string,
  content: Record<string, unknown>,
  isTrusted: (d: DeviceRecord) => boolean,
  policy: KeyForwardingPolicy = "cross-signed",
): Promise<KeyRequestOutcome> {
  const requester = String(content.requesting_device_id);
  // 1.
  if (sender !== ctx.userId) throw new UntrustedKeyShareError("m.room_key_request", sender, requester);
  if (content.action !== "request" || requester === ctx.deviceId) return { kind: "ignore" };
  // 2.
  const device = ctx.devices.get(ctx.userId, requester);
  if (!device) return { kind: "wait-for-device" };
  if (!isTrusted(device)) throw new UntrustedKeyShareError("m.room_key_request", sender, requester);
  // 3.
  const body = (content.body ?? {}) as Record<string, unknown>;
  if (body.algorithm !== MEGOLM_ALGORITHM || typeof body.room_id !== "string" || typeof body.session_id !== "string") {
    return { kind: "ignore" };
  }
  const rec = await ctx.inbound.get(body.room_id, body.session_id);
  if (!rec) return { kind: "ignore" };
  // 4.
  const given = (await sessionShares(ctx, body.session_id))?.[device.userId]?.[device.deviceId];
  const sharedWith = given !== undefined && given.curve25519 === device.curve25519 && rec.roomId === body.room_id;
  if (!allowed(policy, device, { roomId: body.room_id, sessionId: body.session_id, sharedWith })) {
    throw new UntrustedKeyShareError("m.room_key_request", sender, requester);
  }
  // 5.
  if (!(await ctx.olm.has(device.curve25519))) return { kind: "need-olm-session", device };
  // 6.
  const onlyShared = policy === "shared-with" || (policy === "cross-signed" && device.crossSigned !== true);
  const from = onlyShared && given ? Math.max(rec.firstKnownIndex, given.index) : rec.firstKnownIndex;
  const ig = ctx.inbound.unpickle(rec);
  let sessionKey: string;
  try {
    sessionKey = ig.exportAt(from);
  } finally {
    ig.free();
  }
  const forwarded = {
    algorithm: MEGOLM_ALGORITHM,
    room_id: rec.roomId,
    sender_key: rec.senderKey,
    session_id: rec.sessionId,
    session_key: sessionKey,
    sender_claimed_ed25519_key: rec.claimedEd25519 ?? "",
    forwarding_curve25519_key_chain: rec.forwardingChain,
  };
  const encrypted = await olmEncrypt(ctx, device, "m.forwarded_room_key", forwarded);
  if (!encrypted) return { kind: "need-olm-session", device };
  return {
    kind: "answer",
    requests: toDeviceRequests(ctx.random, "m.room.encrypted", [{ userId: ctx.userId, deviceId: device.deviceId, content: encrypted }]),
  };
}

/** Accept an Olm-decrypted m.forwarded_room_key from `from`; returns the cancellation to send. */
export async function acceptForwardedKey(
  ctx: CryptoContext,
  from: DeviceRecord,
  content: Record<string, unknown>,
  isTrusted: (d: DeviceRecord) => boolean,
): Promise<{ stored: boolean; roomId: string; sessionId: string; cancel: ToDeviceRequest[] }> {
  // 1.
  if (from.userId !== ctx.userId || !isTrusted(from)) {
    throw new UntrustedKeyShareError("m.forwarded_room_key", from.userId, from.deviceId);
  }
  const fields = roomKeyFields(content);
  const { sender_key, sender_claimed_ed25519_key, forwarding_curve25519_key_chain } = content;
  if (typeof sender_key !== "string" || typeof sender_claimed_ed25519_key !== "string") {
    throw new MalformedEventError("forwarded key sender_key/sender_claimed_ed25519_key");
  }
  const chain = Array.isArray(forwarding_curve25519_key_chain) ? forwarding_curve25519_key_chain.map(String) : [];
  // 2.
  const all = await outgoing(ctx);
  const asked = Object.values(all).find((r) => r.roomId === fields.roomId && r.sessionId === fields.sessionId);
  if (!asked) throw new UnrequestedForwardedKeyError(fields.roomId, fields.sessionId);
  // 3.
  const stored = await ctx.inbound.offer(fields, true, {
    senderKey: sender_key,
    ...(sender_claimed_ed25519_key ? { claimedEd25519: sender_claimed_ed25519_key } : {}),
    ...(ctx.devices.anyByCurve(sender_key) ? { senderUserId: ctx.devices.anyByCurve(sender_key)!.userId } : {}),
    forwarded: true,
    forwardingChain: [...chain, from.curve25519],
  });
  // 4.
  const { [asked.requestId]: _done, ...rest } = all;
  ctx.store.set(OUT, rest);
  return { stored, roomId: fields.roomId, sessionId: fields.sessionId, cancel: requestMessages(ctx, asked, "request_cancellation") };
}
