import { test } from "node:test";
import assert from "node:assert/strict";
import { FakeKeyServer, prepareRoom, settle } from "../helpers/fake-key-server.js";
import { openClient, RawDevice } from "../helpers/crypto-clients.js";
import { UnknownSessionError, UnrequestedForwardedKeyError, UntrustedKeyShareError } from "../../src/crypto/errors.js";

const ROOM = "!room:example.org";
const A = "@bot:example.org";
const B = "@bob:example.org";

test("a second device of our own account, created later, gets the key by m.room_key_request -> m.forwarded_room_key when the policy trusts every own device", { timeout: 30_000 }, async () => {
  const server = new FakeKeyServer();
  // Not the default ("shared-with", crypto-trust.test.ts): A2 never had this session.
  const a1 = await openClient(A, "BOT1", { forwardRoomKeysTo: "all-own-devices" });
  await settle(server, [a1]);
  await prepareRoom(server, a1, ROOM, [A], [a1]);
  const content = await a1.machine.encryptRoomEvent(ROOM, "dev.opsdroid.database", { key: "written before A2 existed" });
  const ev = { type: "m.room.encrypted", room_id: ROOM, event_id: "$old", sender: A, origin_server_ts: 1, content };

  const a2 = await openClient(A, "BOT2");
  await settle(server, [a1, a2]);
  const err = await a2.machine.decryptRoomEvent(ev).catch((e: unknown) => e);
  assert.ok(err instanceof UnknownSessionError);
  await a2.machine.requestRoomKey(err.roomId, err.sessionId, err.senderKey);
  await settle(server, [a1, a2]);

  const r = await a2.machine.decryptRoomEvent(ev);
  assert.deepEqual(r.content, { key: "written before A2 existed" });
  assert.equal(r.forwarded, true);
  assert.equal(r.senderCurve25519, a1.machine.identityKeys().curve25519);
  const types = server.delivered.map((d) => `${d.to}:${d.type}`);
  assert.ok(types.includes(`${A}|BOT1:m.room_key_request`));
  assert.ok(types.includes(`${A}|BOT2:m.room.encrypted`), "the forwarded key travelled over Olm");
  const cancels = server.delivered.filter((d) => d.type === "m.room_key_request" && d.content.action === "request_cancellation");
  assert.equal(cancels.length, 1, "the request is cancelled once answered");
  assert.deepEqual([...a1.rejected, ...a2.rejected], []);
  // A2 keeps it: readable after a restart with no other device online.
  a1.machine.close();
  const a2b = await a2.reopen();
  assert.deepEqual((await a2b.machine.decryptRoomEvent(ev)).content, { key: "written before A2 existed" });
  a2b.machine.close();
});

test("a key request from another user is refused with UntrustedKeyShareError and not answered", { timeout: 30_000 }, async () => {
  const server = new FakeKeyServer();
  const a1 = await openClient(A, "BOT1");
  const b = await openClient(B, "BOB1");
  await settle(server, [a1, b]);
  await prepareRoom(server, a1, ROOM, [A], [a1, b]);
  const content = await a1.machine.encryptRoomEvent(ROOM, "m.room.message", { body: "x" });
  await b.machine.requestRoomKey(ROOM, String(content.session_id));
  // B addresses its own devices; deliver the same request to A1 as a forged one.
  const req = server.delivered.length;
  server.deliver(A, "BOT1", {
    type: "m.room_key_request",
    sender: B,
    content: { action: "request", requesting_device_id: "BOB1", request_id: "r1", body: { algorithm: "m.megolm.v1.aes-sha2", room_id: ROOM, session_id: content.session_id } },
  });
  await settle(server, [a1, b]);
  assert.ok(a1.rejected.some((e) => e instanceof UntrustedKeyShareError));
  assert.ok(!server.delivered.slice(req).some((d) => d.to === `${B}|BOB1` && d.type === "m.room.encrypted"), "no forwarded key sent");
  a1.machine.close();
  b.machine.close();
});

test("a forwarded key is accepted only from our own devices, and only when we asked for it", { timeout: 30_000 }, async () => {
  const server = new FakeKeyServer();
  const a2 = await openClient(A, "BOT2");
  await settle(server, [a2]);
  const stranger = await RawDevice.create(server, B, "BOB9");
  const ownRogue = await RawDevice.create(server, A, "BOT9");
  a2.machine.updateTrackedUsers([B]);
  await settle(server, [a2]);
  const fwd = {
    algorithm: "m.megolm.v1.aes-sha2",
    room_id: ROOM,
    sender_key: stranger.ids.curve25519,
    session_id: "S",
    session_key: "AQAAAAAAAAAA",
    sender_claimed_ed25519_key: stranger.ids.ed25519,
    forwarding_curve25519_key_chain: [],
  };
  stranger.sendOlm(a2, "m.forwarded_room_key", fwd);
  ownRogue.sendOlm(a2, "m.forwarded_room_key", fwd);
  await settle(server, [a2]);
  assert.ok(a2.rejected[0] instanceof UntrustedKeyShareError, `got ${a2.rejected[0]?.name}`);
  assert.ok(a2.rejected[1] instanceof UnrequestedForwardedKeyError, `got ${a2.rejected[1]?.name}`);
  stranger.free();
  ownRogue.free();
  a2.machine.close();
});
