/**
 * Refusals through the real flow (the machine-level cases are in test/unit/crypto-*.test.ts): a
 * replayed Megolm message, a copy sent by another user, a room key sent unencrypted, a reference to
 * an event of another room, a reference to an unencrypted event. Each read raises
 * UndecryptableValueError naming the event, with the typed crypto error as its cause.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Memory, UndecryptableValueError } from "../../src/index.js";
import { ReplayedMessageIndexError, SessionSenderMismatchError, UnencryptedRoomKeyError } from "../../src/crypto/index.js";
import { getEvent } from "../../src/http/endpoints/events/get-event.js";
import { send } from "../../src/http/endpoints/events/send.js";
import { getStateContent } from "../../src/http/endpoints/state/get-state.js";
import { putState } from "../../src/http/endpoints/state/put-state.js";
import { sendToDevice } from "../../src/http/endpoints/to-device/send-to-device.js";
import { testHomeserver, newUser, type TestUser } from "../helpers/homeserver.js";
import { sharedRoom } from "../helpers/rooms.js";
import { eventually } from "../helpers/wait.js";

let baseUrl: string;
let alice: TestUser;
let bob: TestUser;
let roomId: string;
let otherRoomId: string;
const open = new Set<Memory>();
const dirs: string[] = [];

before(async () => {
  baseUrl = (await testHomeserver()).info.baseUrl;
  [alice, bob] = await Promise.all([newUser("alice"), newUser("bob")]);
  [roomId, otherRoomId] = await Promise.all([sharedRoom(alice, [bob], { encrypted: true }), sharedRoom(alice, [bob], { encrypted: true })]);
});
after(async () => {
  await Promise.all([...open].map((m) => m.close()));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function memory(store: string, errors: unknown[] = [], room = roomId): Promise<Memory> {
  const m = await Memory.open({ homeserver: baseUrl, accessToken: alice.accessToken, rooms: { main: room }, store, syncTimeoutMs: 1000, onError: (e) => errors.push(e) });
  open.add(m);
  return m;
}

/** Add `key -> {encrypted_val: eventId}` to the room's state event, as any writer could. */
async function reference(user: TestUser, key: string, eventId: string, room = roomId): Promise<void> {
  const content = (await user.client.send(getStateContent, { roomId: room, eventType: "dev.opsdroid.database", stateKey: "" }).catch(() => ({}))) as Record<string, unknown>;
  await user.client.send(putState, { roomId: room, eventType: "dev.opsdroid.database", stateKey: "", content: { ...content, [key]: { encrypted_val: eventId } } });
}

async function refusal(db: Memory, key: string): Promise<UndecryptableValueError> {
  const e = await eventually(() => db.get(key).catch((x: unknown) => x), (v) => v !== undefined, 10_000, 100);
  assert.ok(e instanceof UndecryptableValueError, `get(${key}) gave ${String(e)}`);
  return e;
}

test("replayed, copied and misplaced Megolm messages are refused end to end; a plaintext room key is rejected", { timeout: 600_000 }, async () => {
  const store = mkdtempSync(join(tmpdir(), "mxdb-neg-"));
  dirs.push(store);
  const writer = await memory(store);
  await writer.put("original", "the real value");
  await writer.inRoom(otherRoomId, () => writer.put("elsewhere", "another room's value"));
  const stateOf = async (room: string) =>
    (await alice.client.send(getStateContent, { roomId: room, eventType: "dev.opsdroid.database", stateKey: "" })) as Record<string, { encrypted_val: string }>;
  const originalId = (await stateOf(roomId)).original!.encrypted_val;
  const elsewhereId = (await stateOf(otherRoomId)).elsewhere!.encrypted_val;
  await writer.flush();
  open.delete(writer);
  await writer.close();

  const original = await alice.client.send(getEvent, { roomId, eventId: originalId });
  // 1. The same ciphertext sent again by the same device: a new event with an old message index.
  const { event_id: replayId } = await alice.client.send(send, { roomId, eventType: "m.room.encrypted", txnId: alice.client.txnId(), content: original.content });
  await reference(alice, "replayed", replayId);
  // 2. The same ciphertext sent by another member: the session was not shared by them.
  const { event_id: copyId } = await bob.client.send(send, { roomId, eventType: "m.room.encrypted", txnId: bob.client.txnId(), content: original.content });
  await reference(bob, "copied", copyId);
  // 3. A reference to an event of another room.
  await reference(alice, "misplaced", elsewhereId);
  // 4. A reference to an event that is not encrypted.
  const { event_id: plainId } = await bob.client.send(send, { roomId, eventType: "dev.opsdroid.database", txnId: bob.client.txnId(), content: { unencrypted: "x" } });
  await reference(bob, "unencrypted", plainId);

  // A new process with the same store: it reads the original first, as any reader would.
  const errors: unknown[] = [];
  const reader = await memory(store, errors);
  assert.equal(await reader.get("original"), "the real value");

  const replayed = await refusal(reader, "replayed");
  assert.ok(replayed.cause instanceof ReplayedMessageIndexError, String(replayed.cause));
  assert.equal(replayed.eventId, replayId);
  assert.match(replayed.message, new RegExp(replayId.replace(/[$.]/g, "\\$&")));

  const copied = await refusal(reader, "copied");
  assert.ok(copied.cause instanceof SessionSenderMismatchError, String(copied.cause));

  const misplaced = await refusal(reader, "misplaced");
  assert.equal(misplaced.eventId, elsewhereId);
  assert.match(misplaced.reason, /not found|another room/);

  const unencrypted = await refusal(reader, "unencrypted");
  assert.match(unencrypted.reason, /not encrypted/);
  // The original still reads, and a refused value never comes back as the reference.
  assert.equal(await reader.get("original"), "the real value");
  // Deleting them still deletes; what each held is reported as unreadable, never as absent.
  const deleted = (await reader.delete(["replayed", "copied"])) as unknown[];
  assert.deepEqual(
    deleted.map((d) => (d instanceof UndecryptableValueError ? d.key : d)),
    ["replayed", "copied"],
  );
  assert.deepEqual(await reader.keys().then((k) => k.filter((x) => x === "replayed" || x === "copied")), []);

  // 5. A room key sent as a plaintext to-device message is refused (reported, never stored).
  await bob.client.send(sendToDevice, {
    eventType: "m.room_key",
    txnId: bob.client.txnId(),
    messages: { [alice.userId]: { [reader.deviceId!]: { algorithm: "m.megolm.v1.aes-sha2", room_id: roomId, session_id: "fake", session_key: "AgAAAA" } } },
  });
  const seen = await eventually(() => errors.filter((e) => e instanceof UnencryptedRoomKeyError), (l) => l.length > 0, 15_000, 100);
  assert.equal(seen.length, 1);
});
