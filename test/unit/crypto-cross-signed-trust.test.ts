/**
 * Who gets room keys once cross-signing is in play (src/crypto/README.md "Who gets room keys"), on the
 * fake key server: the default policy forwards to an own device cross-signed by our identity and to
 * nobody else; excludeInsecureDevices (MSC4153) shares only with devices their owner cross-signed.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { FakeKeyServer, prepareRoom, settle } from "../helpers/fake-key-server.js";
import { openClient, type TestClient } from "../helpers/crypto-clients.js";
import { UnknownSessionError } from "../../src/crypto/errors.js";
import type { OutgoingRequest } from "../../src/crypto/index.js";

const ROOM = "!room:example.org";
const A = "@bot:example.org";
const B = "@bob:example.org";

async function bootstrap(server: FakeKeyServer, c: TestClient): Promise<void> {
  const { deviceSigningUpload, signaturesUpload } = await c.machine.crossSigning.bootstrap();
  server.publishCrossSigning(c.userId, deviceSigningUpload);
  server.addSignatures(signaturesUpload);
}

/** A raw m.room_key_request (a fresh request id each time, as a client asking again would send). */
function keyRequest(from: TestClient, to: string, roomId: string, sessionId: string, n: number): OutgoingRequest {
  const content = { action: "request", requesting_device_id: from.deviceId, request_id: `again-${n}`, body: { algorithm: "m.megolm.v1.aes-sha2", room_id: roomId, session_id: sessionId } };
  return { id: `again-${n}`, kind: "to_device", eventType: "m.room_key_request", txnId: `again-${n}`, body: { messages: { [from.userId]: { [to]: content } } } };
}

test("default policy: an own device gets a session it was never given only once our identity cross-signs it", { timeout: 30_000 }, async () => {
  const server = new FakeKeyServer();
  const a1 = await openClient(A, "BOT1");
  await settle(server, [a1]);
  await bootstrap(server, a1);
  await settle(server, [a1]);
  await prepareRoom(server, a1, ROOM, [A], [a1]);
  const ev = { type: "m.room.encrypted", room_id: ROOM, event_id: "$1", sender: A, origin_server_ts: 1, content: await a1.machine.encryptRoomEvent(ROOM, "dev.opsdroid.database", { key: "secret" }) };

  const rogue = await openClient(A, "ROGUE");
  await settle(server, [a1, rogue]);
  const err = await rogue.machine.decryptRoomEvent(ev).catch((e: unknown) => e);
  assert.ok(err instanceof UnknownSessionError);
  await rogue.machine.requestRoomKey(err.roomId, err.sessionId, err.senderKey);
  await settle(server, [a1, rogue]);
  assert.deepEqual(a1.rejected.map((e) => e.name), ["UntrustedKeyShareError"]);
  assert.deepEqual(a1.machine.devicesOf(A).map((d) => [d.deviceId, d.crossSigned]), [["ROGUE", false]]);
  await assert.rejects(rogue.machine.decryptRoomEvent(ev), UnknownSessionError);

  // Our identity signs it (the keys/query copy of its keys), the server announces it, a1 re-queries.
  const raw = server.deviceKeys.get(A)!.get("ROGUE")!;
  server.addSignatures(await a1.machine.crossSigning.signOwnDevice("ROGUE", raw));
  await settle(server, [a1, rogue]);
  assert.deepEqual(a1.machine.devicesOf(A).map((d) => [d.deviceId, d.crossSigned]), [["ROGUE", true]]);
  server.handle(rogue.userId, rogue.deviceId, keyRequest(rogue, "BOT1", ROOM, err.sessionId, 1));
  await settle(server, [a1, rogue]);
  assert.deepEqual((await rogue.machine.decryptRoomEvent(ev)).content, { key: "secret" });
  assert.deepEqual(a1.rejected.map((e) => e.name), ["UntrustedKeyShareError"]);
});

test("signOwnDevice refuses an unknown device and keys that differ from the pinned ones", { timeout: 30_000 }, async () => {
  const server = new FakeKeyServer();
  const a1 = await openClient(A, "BOT1");
  const a2 = await openClient(A, "PHONE");
  await settle(server, [a1, a2]);
  await bootstrap(server, a1);
  await settle(server, [a1, a2]);
  const raw = server.deviceKeys.get(A)!.get("PHONE")!;
  await assert.rejects(a1.machine.crossSigning.signOwnDevice("NOPE", raw), { name: "DeviceNotSignableError", message: `cannot cross-sign ${A}/NOPE: not among our devices as last queried (keys/query)` });
  const forged = { ...raw, keys: { ...(raw.keys as Record<string, string>), "curve25519:PHONE": "AAAA" } };
  await assert.rejects(a1.machine.crossSigning.signOwnDevice("PHONE", forged), { name: "DeviceNotSignableError", message: `cannot cross-sign ${A}/PHONE: bad signature on device keys of ${A}/PHONE` });
  const fresh = await openClient(A, "BOT2");
  await assert.rejects(fresh.machine.crossSigning.signOwnDevice("PHONE", raw), { name: "DeviceNotSignableError", message: `cannot cross-sign ${A}/PHONE: this device holds no self-signing key (bootstrap cross-signing first)` });
});

test("excludeInsecureDevices: the room key goes only to devices cross-signed by their owner; without it the same session reaches the rest", { timeout: 30_000 }, async () => {
  const server = new FakeKeyServer();
  const a1 = await openClient(A, "BOT1");
  const b1 = await openClient(B, "BOB1");
  const b2 = await openClient(B, "BOB2");
  await settle(server, [a1, b1, b2]);
  await bootstrap(server, b1);
  a1.machine.updateTrackedUsers([B]);
  await settle(server, [a1, b1, b2]);
  assert.deepEqual(a1.machine.devicesOf(B).map((d) => [d.deviceId, d.crossSigned]).sort(), [["BOB1", true], ["BOB2", false]]);
  const reached = (from: number) => server.delivered.slice(from).filter((d) => d.type === "m.room.encrypted" && d.sender === A).map((d) => d.to).sort();

  const start = server.delivered.length;
  await prepareRoom(server, a1, ROOM, [A, B], [a1, b1, b2], { excludeInsecureDevices: true });
  assert.deepEqual(reached(start), [`${B}|BOB1`]);
  const ev = { type: "m.room.encrypted", room_id: ROOM, event_id: "$1", sender: A, origin_server_ts: 1, content: await a1.machine.encryptRoomEvent(ROOM, "dev.opsdroid.database", { k: 1 }) };
  assert.deepEqual((await b1.machine.decryptRoomEvent(ev)).content, { k: 1 });
  await assert.rejects(b2.machine.decryptRoomEvent(ev), UnknownSessionError);

  // Without the option, the same room's next share reaches the other device too (same session).
  const mid = server.delivered.length;
  await prepareRoom(server, a1, ROOM, [A, B], [a1, b1, b2]);
  assert.deepEqual(reached(mid), [`${B}|BOB2`]);
});
