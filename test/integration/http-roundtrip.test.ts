/**
 * The endpoint catalogue against a real Synapse: account, rooms, state, events and media, each
 * through HttpClient exactly as mxdb uses it.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { HttpClient } from "../../src/http/client.js";
import * as api from "../../src/http/index.js";
import { newUser, testHomeserver, type TestUser } from "../helpers/homeserver.js";

const clients: HttpClient[] = [];
after(async () => {
  await Promise.all(clients.map((c) => c.close()));
});

function track(client: HttpClient): HttpClient {
  clients.push(client);
  return client;
}

// A fresh user per test: under Synapse's default rc_message (burst 10) one user's state PUTs and
// sends across the whole file would wait out the limit.
const alice = (): Promise<TestUser> => newUser("rt").then((u) => (track(u.client), u));

test("register with the dummy flow, log in on a chosen device, whoami, log out", { timeout: 180_000 }, async () => {
  const hs = await testHomeserver();
  const anon = track(new HttpClient({ baseUrl: hs.baseUrl }));
  const username = `reg-${randomBytes(4).toString("hex")}`;
  const password = randomBytes(12).toString("base64url");
  const reg = await api.registerWithDummyAuth(anon, { username, password, initialDeviceDisplayName: "mxdb test" });
  assert.equal(reg.user_id, `@${username}:${hs.info.serverName}`);
  assert.ok(reg.access_token);

  await assert.rejects(anon.send(api.login, { user: username, password: "wrong" }), (e: unknown) => api.isMatrixError(e, "M_FORBIDDEN") && e.status === 403);
  const session = await anon.send(api.login, { user: reg.user_id, password, deviceId: "MXDBTESTDEV" });
  assert.equal(session.device_id, "MXDBTESTDEV");

  const client = track(new HttpClient({ baseUrl: hs.baseUrl, accessToken: session.access_token }));
  assert.deepEqual(
    { user: (await client.send(api.whoami, undefined)).user_id, device: (await client.send(api.whoami, undefined)).device_id },
    { user: reg.user_id, device: "MXDBTESTDEV" },
  );
  await client.send(api.logout, undefined);
  await assert.rejects(client.send(api.whoami, undefined), (e: unknown) => api.isMatrixError(e, "M_UNKNOWN_TOKEN") && e.status === 401);
});

test("a plain and an encrypted room: the encryption state event is there only in the second", { timeout: 180_000 }, async () => {
  const { client } = await alice();
  const plain = await client.send(api.createRoom, { preset: "private_chat", name: "plain" });
  const encrypted = await client.send(api.createRoom, {
    preset: "private_chat",
    initial_state: [{ type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } }],
  });
  assert.deepEqual(await client.send(api.getStateContent, { roomId: encrypted.room_id, eventType: "m.room.encryption", stateKey: "" }), { algorithm: "m.megolm.v1.aes-sha2" });
  await assert.rejects(client.send(api.getStateContent, { roomId: plain.room_id, eventType: "m.room.encryption", stateKey: "" }), (e: unknown) => api.isMatrixError(e, "M_NOT_FOUND") && e.status === 404);
});

test("state put and get, with and without format=event, for awkward and empty keys", { timeout: 180_000 }, async () => {
  const { client, userId } = await alice();
  const { room_id: roomId } = await client.send(api.createRoom, { preset: "private_chat" });
  const type = "dev.opsdroid.database";
  for (const stateKey of ["", "a/b#c!d:e?f g\u00e9\u2603", "%2F", "..."]) {
    const first = await client.send(api.putState, { roomId, eventType: type, stateKey, content: { v: 1 } });
    const second = await client.send(api.putState, { roomId, eventType: type, stateKey, content: { v: 2, s: "\u00e9" } });
    assert.notEqual(second.event_id, first.event_id);
    assert.deepEqual(await client.send(api.getStateContent, { roomId, eventType: type, stateKey }), { v: 2, s: "\u00e9" });
    const ev = await client.send(api.getStateEvent, { roomId, eventType: type, stateKey });
    assert.equal(ev.event_id, second.event_id, JSON.stringify(stateKey));
    assert.equal(ev.state_key, stateKey);
    assert.equal(ev.sender, userId);
    assert.equal(ev.unsigned?.replaces_state, first.event_id);
  }
  const all = await client.send(api.getAllState, { roomId });
  assert.deepEqual(all.filter((e) => e.type === type).map((e) => e.state_key).sort(), ["", "%2F", "...", "a/b#c!d:e?f g\u00e9\u2603"]);
  // "." and ".." cannot be sent (URL parsers drop dot segments): refused before any request.
  for (const stateKey of [".", ".."]) assert.throws(() => client.buildRequest(api.putState, { roomId, eventType: type, stateKey, content: {} }), TypeError);
  await assert.rejects(
    client.send(api.putState, { roomId, eventType: type, stateKey: "big", content: { v: "x".repeat(66_000) } }),
    (e: unknown) => api.isMatrixError(e, "M_TOO_LARGE") && e.status === 413,
  );
});

test("a send repeated with the same transaction ID makes one event; redaction empties it", { timeout: 180_000 }, async () => {
  const { client } = await alice();
  const { room_id: roomId } = await client.send(api.createRoom, { preset: "private_chat" });
  const txnId = client.txnId();
  const args = { roomId, eventType: "dev.opsdroid.database", txnId, content: { key: "value" } };
  const a = await client.send(api.send, args);
  const b = await client.send(api.send, args);
  assert.equal(b.event_id, a.event_id);
  const c = await client.send(api.send, { ...args, txnId: client.txnId() });
  assert.notEqual(c.event_id, a.event_id);

  const page = await client.send(api.messages, { roomId, dir: "b", limit: 50, filter: { types: ["dev.opsdroid.database"] } });
  assert.deepEqual(page.chunk.map((e) => e.event_id), [c.event_id, a.event_id]);

  const got = await client.send(api.getEvent, { roomId, eventId: a.event_id });
  assert.deepEqual(got.content, { key: "value" });
  assert.equal(got.unsigned?.transaction_id, txnId);
  const red = await client.send(api.redact, { roomId, eventId: a.event_id, txnId: client.txnId(), reason: "test" });
  const after = await client.send(api.getEvent, { roomId, eventId: a.event_id });
  assert.deepEqual(after.content, {});
  assert.equal(after.unsigned?.redacted_because?.event_id, red.event_id);
});

test("alias resolution, a second user joins by alias with via, both are joined members, one leaves", { timeout: 180_000 }, async () => {
  const hs = await testHomeserver();
  const owner = await alice();
  const bob = await newUser("rt-bob");
  track(bob.client);
  const aliasName = `kv-${randomBytes(4).toString("hex")}`;
  const alias = `#${aliasName}:${hs.info.serverName}`;
  const room = await owner.client.send(api.createRoom, { preset: "public_chat", room_alias_name: aliasName });
  const resolved = await bob.client.send(api.resolveAlias, { roomAlias: alias });
  assert.equal(resolved.room_id, room.room_id);
  assert.ok(resolved.servers?.includes(hs.info.serverName));
  await assert.rejects(bob.client.send(api.resolveAlias, { roomAlias: `#nope-${aliasName}:${hs.info.serverName}` }), (e: unknown) => api.isMatrixError(e, "M_NOT_FOUND"));

  const joined = await bob.client.send(api.join, { roomIdOrAlias: alias, via: [hs.info.serverName] });
  assert.equal(joined.room_id, room.room_id);
  const members = await owner.client.send(api.joinedMembers, { roomId: room.room_id });
  assert.deepEqual(Object.keys(members.joined).sort(), [owner.userId, bob.userId].sort());
  await bob.client.send(api.leave, { roomId: room.room_id });
  assert.deepEqual(Object.keys((await owner.client.send(api.joinedMembers, { roomId: room.room_id })).joined), [owner.userId]);
});

test("media: upload bytes, download them back through the authenticated endpoint", { timeout: 180_000 }, async () => {
  const { client } = await alice();
  const config = await client.send(api.mediaConfig, undefined);
  assert.equal(typeof config["m.upload.size"], "number");
  const bytes = new Uint8Array(randomBytes(4096));
  bytes.set([0x00, 0xff, 0x7b, 0x22], 0);
  const { content_uri } = await client.send(api.upload, { bytes, contentType: "application/octet-stream", filename: "blob.bin" });
  const mxc = api.parseMxc(content_uri);
  assert.ok(mxc, content_uri);
  assert.deepEqual(await client.send(api.download, mxc), bytes);
});

test("device keys: upload, query by another user, claim a one-time key once", { timeout: 180_000 }, async () => {
  const { client, userId, deviceId } = await alice();
  const bob = await newUser("rt-keys");
  track(bob.client);
  const keyId = `AAAA${randomBytes(3).toString("hex")}`;
  const up = await client.send(api.uploadKeys, {
    device_keys: { user_id: userId, device_id: deviceId, algorithms: ["m.olm.v1.curve25519-aes-sha2"], keys: { [`curve25519:${deviceId}`]: "c".repeat(43), [`ed25519:${deviceId}`]: "e".repeat(43) }, signatures: {} },
    one_time_keys: { [`signed_curve25519:${keyId}`]: { key: "k".repeat(43), signatures: {} } },
  });
  assert.equal(up.one_time_key_counts.signed_curve25519, 1);
  const query = await bob.client.send(api.queryKeys, { deviceKeys: { [userId]: [] } });
  assert.equal(query.device_keys?.[userId]?.[deviceId]?.keys[`ed25519:${deviceId}`], "e".repeat(43));
  const claim = await bob.client.send(api.claimKeys, { oneTimeKeys: { [userId]: { [deviceId]: "signed_curve25519" } } });
  assert.deepEqual(Object.keys(claim.one_time_keys[userId]?.[deviceId] ?? {}), [`signed_curve25519:${keyId}`]);
  const again = await bob.client.send(api.claimKeys, { oneTimeKeys: { [userId]: { [deviceId]: "signed_curve25519" } } });
  assert.deepEqual(again.one_time_keys[userId]?.[deviceId] ?? {}, {});
  await bob.client.send(api.sendToDevice, { eventType: "dev.mxdb.ping", txnId: bob.client.txnId(), messages: { [userId]: { [deviceId]: { n: 1 } } } });
});
