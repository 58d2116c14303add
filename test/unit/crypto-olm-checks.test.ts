import { test } from "node:test";
import assert from "node:assert/strict";
import { FakeKeyServer, settle } from "../helpers/fake-key-server.js";
import { openClient, RawDevice } from "../helpers/crypto-clients.js";
import { olmBackend } from "../../src/crypto/olm/backend.js";
import { keysUploadBody } from "../../src/crypto/account.js";
import {
  BadSignatureError,
  DeviceIdMismatchError,
  DeviceKeyChangedError,
  RecipientKeyMismatchError,
  RecipientMismatchError,
  RoomIdMismatchError,
  SenderKeyMismatchError,
  SenderMismatchError,
  UnknownSessionError,
} from "../../src/crypto/errors.js";

const R1 = "!one:example.org";
const R2 = "!two:example.org";
const B = "@bob:example.org";
const M = "@mallory:example.org";

/** B (a machine) and Mallory (raw libolm), with B tracking Mallory's devices. */
async function setup() {
  const server = new FakeKeyServer();
  const b = await openClient(B, "BOB1");
  await settle(server, [b]);
  const mallory = await RawDevice.create(server, M, "MAL1");
  b.machine.updateTrackedUsers([M]);
  await settle(server, [b]);
  const backend = await olmBackend();
  const og = backend.newOutboundGroupSession();
  const roomKey = (roomId: string) => ({ algorithm: "m.megolm.v1.aes-sha2", room_id: roomId, session_id: og.sessionId(), session_key: og.sessionKey() });
  const event = (roomId: string, plaintextRoomId = roomId) => ({
    type: "m.room.encrypted",
    room_id: roomId,
    event_id: `$${Math.random()}`,
    sender: M,
    origin_server_ts: 5,
    content: {
      algorithm: "m.megolm.v1.aes-sha2",
      session_id: og.sessionId(),
      ciphertext: og.encrypt(JSON.stringify({ type: "m.room.message", content: { body: "hi" }, room_id: plaintextRoomId })),
    },
  });
  const deliver = async () => b.machine.receiveSyncChanges(server.sync(B, "BOB1"));
  const cleanup = () => {
    og.free();
    mallory.free();
    b.machine.close();
  };
  return { server, b, mallory, roomKey, event, deliver, cleanup };
}

test("control: a correct Olm payload from a verified device is accepted and its room key works", { timeout: 30_000 }, async () => {
  const { b, mallory, roomKey, event, deliver, cleanup } = await setup();
  try {
    mallory.sendOlm(b, "m.room_key", roomKey(R1));
    const out = await deliver();
    assert.equal(out.length, 1);
    assert.equal(out[0]!.encrypted, true);
    assert.equal(out[0]!.senderDeviceId, "MAL1");
    assert.equal(out[0]!.content.session_key, undefined, "the session key is not handed back");
    assert.deepEqual(b.rejected, []);
    assert.deepEqual((await b.machine.decryptRoomEvent(event(R1))).content, { body: "hi" });
  } finally {
    cleanup();
  }
});

const payloadCases: [string, Record<string, unknown>, string | undefined, new (...a: never[]) => Error][] = [
  ["recipient is not us", { recipient: "@someone:example.org" }, undefined, RecipientMismatchError],
  ["recipient_keys.ed25519 is not our key", { recipient_keys: { ed25519: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" } }, undefined, RecipientKeyMismatchError],
  ["payload sender is not the event sender", { sender: "@other:example.org" }, undefined, SenderMismatchError],
  ["keys.ed25519 is not the sender device's key", { keys: { ed25519: "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB" } }, undefined, SenderKeyMismatchError],
];

for (const [name, overrides, eventSender, ErrorClass] of payloadCases) {
  test(`an Olm payload whose ${name} is refused with ${ErrorClass.name}`, { timeout: 30_000 }, async () => {
    const { b, mallory, roomKey, event, deliver, cleanup } = await setup();
    try {
      mallory.sendOlm(b, "m.room_key", roomKey(R1), overrides, eventSender);
      assert.deepEqual(await deliver(), []);
      assert.equal(b.rejected.length, 1);
      assert.ok(b.rejected[0] instanceof ErrorClass, `got ${b.rejected[0]?.name}`);
      await assert.rejects(b.machine.decryptRoomEvent(event(R1)), UnknownSessionError);
    } finally {
      cleanup();
    }
  });
}

test("an event whose Megolm plaintext names another room is refused with RoomIdMismatchError", { timeout: 30_000 }, async () => {
  const { b, mallory, roomKey, event, deliver, cleanup } = await setup();
  try {
    // The key is for R2; the plaintext says R1: the event was moved from R1 into R2.
    mallory.sendOlm(b, "m.room_key", roomKey(R2));
    await deliver();
    await assert.rejects(b.machine.decryptRoomEvent(event(R2, R1)), RoomIdMismatchError);
    // Presented in R1, where we hold no such session, it is unknown, not decrypted.
    await assert.rejects(b.machine.decryptRoomEvent(event(R1)), UnknownSessionError);
  } finally {
    cleanup();
  }
});

test("a device whose self-signature is bad is refused with BadSignatureError and left out", { timeout: 30_000 }, async () => {
  const server = new FakeKeyServer();
  const b = await openClient(B, "BOB1");
  await settle(server, [b]);
  const mallory = await RawDevice.create(server, M, "MAL1");
  const keys = server.deviceKeys.get(M)!.get("MAL1")!;
  (keys.keys as Record<string, string>)["curve25519:MAL1"] = "ZmFrZWZha2VmYWtlZmFrZWZha2VmYWtlZmFrZWZha2U";
  b.machine.updateTrackedUsers([M]);
  await settle(server, [b]);
  assert.ok(b.rejected.some((e) => e instanceof BadSignatureError && e.deviceId === "MAL1"));
  assert.deepEqual(b.machine.devicesOf(M), []);
  mallory.free();
  b.machine.close();
});

test("a keys/query entry filed under another device id is refused with DeviceIdMismatchError", { timeout: 30_000 }, async () => {
  const server = new FakeKeyServer();
  const b = await openClient(B, "BOB1");
  await settle(server, [b]);
  const mallory = await RawDevice.create(server, M, "MAL1");
  server.deviceKeys.get(M)!.set("OTHER", server.deviceKeys.get(M)!.get("MAL1")!);
  b.machine.updateTrackedUsers([M]);
  await settle(server, [b]);
  assert.ok(b.rejected.some((e) => e instanceof DeviceIdMismatchError && e.deviceId === "OTHER"));
  assert.deepEqual(b.machine.devicesOf(M).map((d) => d.deviceId), ["MAL1"]);
  mallory.free();
  b.machine.close();
});

test("a changed ed25519 key for a pinned device is refused with DeviceKeyChangedError; the old key stays", { timeout: 30_000 }, async () => {
  const { server, b, mallory, cleanup } = await setup();
  try {
    const pinned = b.machine.devicesOf(M)[0]!;
    assert.equal(pinned.ed25519, mallory.ids.ed25519);
    // A new account re-uses the device id, validly self-signed with its new key.
    const backend = await olmBackend();
    const acct = backend.newAccount();
    try {
      const body = keysUploadBody(acct, acct.identityKeys(), { userId: M, deviceId: "MAL1", pickle: "", deviceKeysUploaded: false })!;
      server.handle(M, "MAL1", { id: "x", kind: "keys_upload", body });
    } finally {
      acct.free();
    }
    server.announce(M);
    await settle(server, [b]);
    assert.ok(b.rejected.some((e) => e instanceof DeviceKeyChangedError && e.deviceId === "MAL1"));
    assert.equal(b.machine.devicesOf(M)[0]!.ed25519, pinned.ed25519);
    // The pin survives a restart.
    const b2 = await b.reopen();
    server.announce(M);
    await settle(server, [b2]);
    assert.ok(b2.rejected.some((e) => e instanceof DeviceKeyChangedError));
    assert.equal(b2.machine.devicesOf(M)[0]!.ed25519, pinned.ed25519);
    b2.machine.close();
  } finally {
    cleanup(); // close() is idempotent; reopen() already closed the first machine
  }
});

test("a claimed one-time key with a bad signature is refused with BadSignatureError; no session is made", { timeout: 30_000 }, async () => {
  const server = new FakeKeyServer();
  const a = await openClient("@alice:example.org", "ALICE1");
  const b = await openClient(B, "BOB1");
  await settle(server, [a, b]);
  a.machine.updateTrackedUsers([B]);
  await settle(server, [a, b]);
  for (const obj of server.otks.get(`${B}|BOB1`)!.values()) obj.key = "ZmFrZWZha2VmYWtlZmFrZWZha2VmYWtlZmFrZWZha2U";
  const claim = a.machine.getMissingSessions([B])!;
  assert.equal(claim.kind, "keys_claim");
  await a.machine.markRequestAsSent(claim.id, server.handle(a.userId, a.deviceId, claim));
  assert.ok(a.rejected.some((e) => e instanceof BadSignatureError && e.deviceId === "BOB1"));
  assert.ok(a.machine.getMissingSessions([B]), "still missing a session");
  a.machine.close();
  b.machine.close();
});
