import { test } from "node:test";
import assert from "node:assert/strict";
import { FakeKeyServer, flushRequests, prepareRoom, settle } from "../helpers/fake-key-server.js";
import { openClient, type TestClient } from "../helpers/crypto-clients.js";
import { olmBackend } from "../../src/crypto/olm/backend.js";
import {
  NoOutboundSessionError,
  ReplayedMessageIndexError,
  UnencryptedRoomKeyError,
  UnknownSessionError,
} from "../../src/crypto/errors.js";

const ROOM = "!room:example.org";
const A = "@alice:example.org";
const B = "@bob:example.org";

async function world() {
  const server = new FakeKeyServer();
  const a = await openClient(A, "ALICE1");
  const b1 = await openClient(B, "BOB1");
  const b2 = await openClient(B, "BOB2");
  const all = [a, b1, b2];
  await settle(server, all);
  return { server, a, b1, b2, all };
}

let seq = 0;
function roomEvent(sender: TestClient, content: Record<string, unknown>, eventId = `$ev${++seq}`) {
  return { type: "m.room.encrypted", room_id: ROOM, event_id: eventId, sender: sender.userId, origin_server_ts: 1000 + seq, content };
}

test("A shares a room key with both of B's devices, and both decrypt A's events", { timeout: 30_000 }, async () => {
  const { server, a, b1, b2, all } = await world();
  const share = await prepareRoom(server, a, ROOM, [A, B], all);
  const recipients = share.flatMap((r) => (r.kind === "to_device" ? Object.entries(r.body.messages).flatMap(([u, d]) => Object.keys(d).map((x) => `${u}/${x}`)) : []));
  assert.deepEqual(recipients.sort(), [`${B}/BOB1`, `${B}/BOB2`]);
  assert.ok(share.every((r) => r.kind === "to_device" && r.eventType === "m.room.encrypted"), "m.room_key only over Olm");

  const content = await a.machine.encryptRoomEvent(ROOM, "dev.opsdroid.database", { secret: "marker-7f3a" });
  assert.equal(content.algorithm, "m.megolm.v1.aes-sha2");
  assert.equal(content.sender_key, a.machine.identityKeys().curve25519);
  assert.equal(content.device_id, "ALICE1");
  assert.ok(!JSON.stringify(content).includes("marker-7f3a"));
  const ev = roomEvent(a, content);
  for (const b of [b1, b2]) {
    const r = await b.machine.decryptRoomEvent(ev);
    assert.equal(r.type, "dev.opsdroid.database");
    assert.deepEqual(r.content, { secret: "marker-7f3a" });
    assert.equal(r.senderCurve25519, a.machine.identityKeys().curve25519);
    assert.equal(r.claimedEd25519, a.machine.identityKeys().ed25519);
    assert.equal(r.forwarded, false);
  }
  assert.deepEqual([...a.rejected, ...b1.rejected, ...b2.rejected], []);
  // Sharing again reaches nobody new and keeps the session.
  assert.deepEqual(await a.machine.shareRoomKey(ROOM, [A, B], {}), []);
});

test("A decrypts its own events after close() and reopening the same store", { timeout: 30_000 }, async () => {
  const { server, a, all } = await world();
  await prepareRoom(server, a, ROOM, [A, B], all);
  const ev1 = roomEvent(a, await a.machine.encryptRoomEvent(ROOM, "dev.opsdroid.database", { k: "before restart" }));
  const a2 = await a.reopen();
  assert.deepEqual(a2.machine.identityKeys(), a.machine.identityKeys(), "the account is reused, not recreated");
  assert.deepEqual((await a2.machine.decryptRoomEvent(ev1)).content, { k: "before restart" });
  // The outbound ratchet continues where it stopped (index persisted).
  const ev2 = roomEvent(a2, await a2.machine.encryptRoomEvent(ROOM, "dev.opsdroid.database", { k: "after" }));
  assert.equal(ev2.content.session_id, ev1.content.session_id);
  assert.deepEqual((await a2.machine.decryptRoomEvent(ev2)).content, { k: "after" });
  assert.equal(await flushRequests(server, a2), 0, "no keys re-uploaded after a restart");
  a2.machine.close();
});

test("a replayed Megolm message index is refused; re-decrypting the same event is allowed, also after restart", { timeout: 30_000 }, async () => {
  const { server, a, b1, all } = await world();
  await prepareRoom(server, a, ROOM, [A, B], all);
  const content = await a.machine.encryptRoomEvent(ROOM, "m.room.message", { body: "once" });
  const ev = roomEvent(b1, content, "$original");
  ev.sender = A;
  await b1.machine.decryptRoomEvent(ev);
  await b1.machine.decryptRoomEvent(ev); // same event again: fine
  const replay = { ...ev, event_id: "$replayed" };
  await assert.rejects(b1.machine.decryptRoomEvent(replay), (e) => e instanceof ReplayedMessageIndexError && e.firstEventId === "$original");
  await assert.rejects(b1.machine.decryptRoomEvent({ ...ev, origin_server_ts: ev.origin_server_ts + 1 }), ReplayedMessageIndexError);
  const b1again = await b1.reopen();
  await assert.rejects(b1again.machine.decryptRoomEvent(replay), ReplayedMessageIndexError);
  assert.deepEqual((await b1again.machine.decryptRoomEvent(ev)).content, { body: "once" });
});

test("a room key sent unencrypted is refused with UnencryptedRoomKeyError and never used", { timeout: 30_000 }, async () => {
  const { server, b1 } = await world();
  const backend = await olmBackend();
  const og = backend.newOutboundGroupSession();
  try {
    const sessionId = og.sessionId();
    server.deliver(B, "BOB1", {
      type: "m.room_key",
      sender: A,
      content: { algorithm: "m.megolm.v1.aes-sha2", room_id: ROOM, session_id: sessionId, session_key: og.sessionKey() },
    });
    const out = await b1.machine.receiveSyncChanges(server.sync(B, "BOB1"));
    assert.deepEqual(out, []);
    assert.equal(b1.rejected.length, 1);
    assert.ok(b1.rejected[0] instanceof UnencryptedRoomKeyError);
    const ciphertext = og.encrypt(JSON.stringify({ type: "m.room.message", content: { body: "forged" }, room_id: ROOM }));
    const ev = { type: "m.room.encrypted", room_id: ROOM, event_id: "$f", sender: A, origin_server_ts: 1, content: { algorithm: "m.megolm.v1.aes-sha2", session_id: sessionId, ciphertext } };
    await assert.rejects(b1.machine.decryptRoomEvent(ev), (e) => e instanceof UnknownSessionError && e.sessionId === sessionId && e.roomId === ROOM);
  } finally {
    og.free();
  }
});

test("the outbound session rotates after rotation_period_msgs messages and after rotation_period_ms", { timeout: 30_000 }, async () => {
  const { server, a, b1, all } = await world();
  await prepareRoom(server, a, ROOM, [A, B], all, { rotationPeriodMsgs: 2, rotationPeriodMs: 60_000 });
  const e1 = await a.machine.encryptRoomEvent(ROOM, "m.room.message", { n: 1 });
  const e2 = await a.machine.encryptRoomEvent(ROOM, "m.room.message", { n: 2 });
  assert.equal(e1.session_id, e2.session_id);
  await assert.rejects(a.machine.encryptRoomEvent(ROOM, "m.room.message", { n: 3 }), NoOutboundSessionError);
  await prepareRoom(server, a, ROOM, [A, B], all, { rotationPeriodMsgs: 2, rotationPeriodMs: 60_000 });
  const e3 = await a.machine.encryptRoomEvent(ROOM, "m.room.message", { n: 3 });
  assert.notEqual(e3.session_id, e2.session_id);
  assert.deepEqual((await b1.machine.decryptRoomEvent({ ...roomEvent(a, e3) })).content, { n: 3 });

  a.clock.t += 60_000;
  await assert.rejects(a.machine.encryptRoomEvent(ROOM, "m.room.message", { n: 4 }), NoOutboundSessionError);
  await prepareRoom(server, a, ROOM, [A, B], all, { rotationPeriodMsgs: 2, rotationPeriodMs: 60_000 });
  const e4 = await a.machine.encryptRoomEvent(ROOM, "m.room.message", { n: 4 });
  assert.notEqual(e4.session_id, e3.session_id);
  // Old sessions still decrypt (B keeps every inbound session).
  assert.deepEqual((await b1.machine.decryptRoomEvent(roomEvent(a, e1))).content, { n: 1 });
});

test("after a member leaves, the session rotates and the new key does not reach them", { timeout: 30_000 }, async () => {
  const { server, a, b1, all } = await world();
  await prepareRoom(server, a, ROOM, [A, B], all);
  const before = await a.machine.encryptRoomEvent(ROOM, "m.room.message", { n: 1 });
  await a.machine.onRoomMemberLeft(ROOM);
  await assert.rejects(a.machine.encryptRoomEvent(ROOM, "m.room.message", { n: 2 }), NoOutboundSessionError);
  const share = await prepareRoom(server, a, ROOM, [A], all);
  assert.deepEqual(share, [], "nobody but us is left, so nothing is sent");
  const after = await a.machine.encryptRoomEvent(ROOM, "m.room.message", { n: 2 });
  assert.notEqual(after.session_id, before.session_id);
  await assert.rejects(b1.machine.decryptRoomEvent(roomEvent(a, after)), UnknownSessionError);
  assert.deepEqual((await a.machine.decryptRoomEvent(roomEvent(a, after))).content, { n: 2 });

  // A member missing from the users list also forces a new session, even without onRoomMemberLeft.
  await prepareRoom(server, a, ROOM, [A, B], all);
  const withBob = await a.machine.encryptRoomEvent(ROOM, "m.room.message", { n: 3 });
  assert.equal(withBob.session_id, after.session_id, "adding a member shares the current session");
  await prepareRoom(server, a, ROOM, [A], all);
  const without = await a.machine.encryptRoomEvent(ROOM, "m.room.message", { n: 4 });
  assert.notEqual(without.session_id, withBob.session_id);
});
