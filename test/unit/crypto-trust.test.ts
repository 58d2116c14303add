/**
 * Who gets room keys (src/crypto/README.md "Who gets room keys") and delivery bookkeeping
 * (src/crypto/megolm/shares.ts): a device counts as having a key only once its share was sent, and an
 * unsent share survives a restart.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { FakeKeyServer, flushRequests, prepareRoom, settle } from "../helpers/fake-key-server.js";
import { openClient } from "../helpers/crypto-clients.js";
import { UnknownSessionError, UntrustedKeyShareError } from "../../src/crypto/errors.js";
import type { DeviceRecord, KeyForwardRequest } from "../../src/crypto/index.js";

const ROOM = "!room:example.org";
const A = "@bot:example.org";
const B = "@bob:example.org";
const C = "@carol:example.org";

function eventOf(content: Record<string, unknown>, id: string) {
  return { type: "m.room.encrypted", room_id: ROOM, event_id: id, sender: A, origin_server_ts: 1, content };
}

test("default policy: an own device added later (never given the session) asks for it and gets nothing", { timeout: 30_000 }, async () => {
  const server = new FakeKeyServer();
  const a1 = await openClient(A, "BOT1");
  await settle(server, [a1]);
  await prepareRoom(server, a1, ROOM, [A], [a1]);
  const ev = eventOf(await a1.machine.encryptRoomEvent(ROOM, "dev.opsdroid.database", { key: "secret" }), "$1");

  const rogue = await openClient(A, "ROGUE");
  await settle(server, [a1, rogue]);
  const err = await rogue.machine.decryptRoomEvent(ev).catch((e: unknown) => e);
  assert.ok(err instanceof UnknownSessionError);
  const before = server.delivered.length;
  await rogue.machine.requestRoomKey(err.roomId, err.sessionId, err.senderKey);
  await settle(server, [a1, rogue]);
  assert.deepEqual(
    a1.rejected.map((e) => e.name),
    ["UntrustedKeyShareError"],
  );
  assert.ok(a1.rejected[0] instanceof UntrustedKeyShareError);
  assert.deepEqual(
    server.delivered.slice(before).filter((d) => d.to === `${A}|ROGUE` && d.type === "m.room.encrypted"),
    [],
    "no key travelled to the rogue device",
  );
  assert.ok((await rogue.machine.decryptRoomEvent(ev).catch((e: unknown) => e)) instanceof UnknownSessionError);
  a1.machine.close();
  rogue.machine.close();
});

test("default policy: a device the session was delivered to gets it back by key request, from the index it was given", { timeout: 30_000 }, async () => {
  const server = new FakeKeyServer();
  const a1 = await openClient(A, "BOT1");
  const a2 = await openClient(A, "BOT2");
  await settle(server, [a1, a2]);
  a1.machine.updateTrackedUsers([A]);
  await settle(server, [a1, a2]);
  // Index 0 is used before A2 has the key, then A2 is reached at index 1.
  const claim = a1.machine.getMissingSessions([A]);
  if (claim) await a1.machine.markRequestAsSent(claim.id, server.handle(A, "BOT1", claim));
  const first = await a1.machine.shareRoomKey(ROOM, [A]);
  // The share is sent, but A2 loses it (its inbox is dropped: a device restored from an old store).
  await flushRequests(server, a1, first);
  (server as unknown as { inbox: Map<string, unknown> }).inbox.delete(`${A}|BOT2`);
  const ev = eventOf(await a1.machine.encryptRoomEvent(ROOM, "dev.opsdroid.database", { key: "again" }), "$2");
  assert.deepEqual(await a1.machine.shareRoomKey(ROOM, [A]), [], "A2 counts as reached once the share was sent");

  const err = await a2.machine.decryptRoomEvent(ev).catch((e: unknown) => e);
  assert.ok(err instanceof UnknownSessionError);
  await a2.machine.requestRoomKey(err.roomId, err.sessionId, err.senderKey);
  await settle(server, [a1, a2]);
  assert.deepEqual((await a2.machine.decryptRoomEvent(ev)).content, { key: "again" });
  assert.deepEqual([...a1.rejected, ...a2.rejected], []);
  a1.machine.close();
  a2.machine.close();
});

test("a forwarding callback sees the device and whether the session was shared with it", { timeout: 30_000 }, async () => {
  const server = new FakeKeyServer();
  const asked: { deviceId: string; request: KeyForwardRequest }[] = [];
  const a1 = await openClient(A, "BOT1", {
    forwardRoomKeysTo: (d: DeviceRecord, request: KeyForwardRequest) => {
      asked.push({ deviceId: d.deviceId, request });
      return d.deviceId === "ALLOWED";
    },
  });
  await settle(server, [a1]);
  await prepareRoom(server, a1, ROOM, [A], [a1]);
  const ev = eventOf(await a1.machine.encryptRoomEvent(ROOM, "dev.opsdroid.database", { key: "v" }), "$3");
  const allowed = await openClient(A, "ALLOWED");
  await settle(server, [a1, allowed]);
  const err = await allowed.machine.decryptRoomEvent(ev).catch((e: unknown) => e);
  assert.ok(err instanceof UnknownSessionError);
  await allowed.machine.requestRoomKey(err.roomId, err.sessionId, err.senderKey);
  await settle(server, [a1, allowed]);
  assert.deepEqual((await allowed.machine.decryptRoomEvent(ev)).content, { key: "v" });
  // Asked again when the request is retried after an Olm session was claimed: the same question each time.
  assert.deepEqual(new Set(asked.map((a) => JSON.stringify(a))), new Set([JSON.stringify({ deviceId: "ALLOWED", request: { roomId: ROOM, sessionId: err.sessionId, sharedWith: false } })]));
  a1.machine.close();
  allowed.machine.close();
});

test("a share that was never sent is not counted, is kept in the store, and goes out after a restart", { timeout: 30_000 }, async () => {
  const server = new FakeKeyServer();
  const a1 = await openClient(A, "BOT1");
  const b = await openClient(B, "BOB1");
  const c = await openClient(C, "CAROL1");
  await settle(server, [a1, b, c]);
  a1.machine.updateTrackedUsers([A, B, C]);
  await settle(server, [a1, b, c]);
  const claim = a1.machine.getMissingSessions([A, B, C]);
  if (claim) await a1.machine.markRequestAsSent(claim.id, server.handle(A, "BOT1", claim));
  const share = await a1.machine.shareRoomKey(ROOM, [A, B, C]);
  assert.equal(share.length, 1);
  const ev = eventOf(await a1.machine.encryptRoomEvent(ROOM, "dev.opsdroid.database", { key: "kept" }), "$4");
  // The PUT failed: sharing again builds nothing new (the share is pending, not lost, not doubled).
  assert.deepEqual(await a1.machine.shareRoomKey(ROOM, [A, B, C]), []);
  assert.deepEqual(a1.machine.outgoingRequests().filter((r) => r.kind === "to_device"), [], "listed only to the caller before a restart");

  // Restart: the same request (same txnId and ciphertexts) is listed and sent.
  const a1b = await a1.reopen();
  const listed = a1b.machine.outgoingRequests().filter((r) => r.kind === "to_device");
  assert.deepEqual(listed, share);
  await settle(server, [a1b, b, c]);
  assert.deepEqual((await b.machine.decryptRoomEvent(ev)).content, { key: "kept" });
  assert.deepEqual((await c.machine.decryptRoomEvent(ev)).content, { key: "kept" });
  // Sent now: nobody is shared with twice, and nothing is pending after another restart.
  assert.deepEqual(await a1b.machine.shareRoomKey(ROOM, [A, B, C]), []);
  const a1c = await a1b.reopen();
  assert.deepEqual(a1c.machine.outgoingRequests().filter((r) => r.kind === "to_device"), []);
  assert.deepEqual([...a1c.rejected, ...b.rejected, ...c.rejected], []);
  a1c.machine.close();
  b.machine.close();
  c.machine.close();
});
