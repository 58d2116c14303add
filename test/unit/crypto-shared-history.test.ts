/**
 * Shareable encryption sessions (https://spec.matrix.org/v1.19/client-server-api/#shareable-encryption-sessions):
 * m.room_key carries shared_history from the room's history visibility at creation, a change of that
 * setting rotates the session, the receiver records the flag, and the key backup keeps it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { FakeKeyServer, prepareRoom, settle } from "../helpers/fake-key-server.js";
import { openClient, type TestClient } from "../helpers/crypto-clients.js";
import { olmBackend } from "../../src/crypto/olm/backend.js";
import { decryptSessionData } from "../../src/crypto/backup/session-data.js";

const ROOM = "!history-room:example.org";
const A = "@alice:example.org";
const B = "@bob:example.org";

/** shared_history of every session `c` holds, by session id, as its key backup would carry it. */
async function flags(c: TestClient): Promise<Record<string, boolean | undefined>> {
  const { privateKey, publicKey } = c.machine.backup.newBackupKey();
  await c.machine.backup.enable(`v-${Math.random()}`, publicKey, privateKey);
  const batch = (await c.machine.backup.nextBatch())!;
  const backend = await olmBackend();
  const out: Record<string, boolean | undefined> = {};
  for (const [sessionId, entry] of Object.entries(batch.body.rooms[ROOM]!.sessions)) {
    out[sessionId] = decryptSessionData(backend, privateKey, ROOM, sessionId, entry.session_data).shared_history;
  }
  return out;
}

test("shared_history follows the history visibility; a change of it rotates; receiver and backup keep the flag", { timeout: 30_000 }, async () => {
  const server = new FakeKeyServer();
  const a = await openClient(A, "ALICE1");
  const b = await openClient(B, "BOB1");
  await settle(server, [a, b]);
  const sessionOf = async () => String((await a.machine.encryptRoomEvent(ROOM, "dev.opsdroid.database", { k: 1 })).session_id);

  await prepareRoom(server, a, ROOM, [A, B], [a, b], { sharedHistory: false });
  const joinedOnly = await sessionOf();
  // Same setting: the session is kept.
  await prepareRoom(server, a, ROOM, [A, B], [a, b], { sharedHistory: false });
  assert.equal(await sessionOf(), joinedOnly);
  // The room became shared: a new session, marked shareable.
  await prepareRoom(server, a, ROOM, [A, B], [a, b], { sharedHistory: true });
  const shared = await sessionOf();
  assert.notEqual(shared, joinedOnly);
  // And back: rotated again.
  await prepareRoom(server, a, ROOM, [A, B], [a, b], { sharedHistory: false });
  const again = await sessionOf();
  assert.notEqual(again, shared);

  const expected = { [joinedOnly]: false, [shared]: true, [again]: false };
  assert.deepEqual(await flags(a), expected);
  assert.deepEqual(await flags(b), expected);
  a.machine.close();
  b.machine.close();
});

test("a backed-up session's shared_history survives a restore into another device", { timeout: 30_000 }, async () => {
  const server = new FakeKeyServer();
  const a = await openClient(A, "ALICE1");
  await settle(server, [a]);
  await prepareRoom(server, a, ROOM, [A], [a], { sharedHistory: true });
  await a.machine.encryptRoomEvent(ROOM, "dev.opsdroid.database", { k: 1 });
  const { privateKey, publicKey } = a.machine.backup.newBackupKey();
  await a.machine.backup.enable("1", publicKey, privateKey);
  const body = (await a.machine.backup.nextBatch())!.body;
  const fresh = await openClient(A, "ALICE2");
  assert.equal((await fresh.machine.backup.importBackup(privateKey, body)).imported, 1);
  assert.deepEqual(Object.values(await flags(fresh)), [true]);
  a.machine.close();
  fresh.machine.close();
});
