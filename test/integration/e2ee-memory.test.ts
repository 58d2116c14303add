/**
 * Encrypted values through Memory on the real Synapse: the opsdroid format on the wire, another
 * user's device reading them, restarts, a second device of the same account (key forwarding).
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { EncryptionUnavailableError, Memory, UndecryptableValueError, type MemoryOptions } from "../../src/index.js";
import { UnknownSessionError, UntrustedKeyShareError } from "../../src/crypto/index.js";
import { getEvent } from "../../src/http/endpoints/events/get-event.js";
import { getStateContent } from "../../src/http/endpoints/state/get-state.js";
import { memoryTraceSink } from "../../src/http/trace.js";
import { testHomeserver, newUser, type TestUser } from "../helpers/homeserver.js";
import { memories } from "../helpers/memories.js";
import { sharedRoom } from "../helpers/rooms.js";
import { eventually } from "../helpers/wait.js";

let baseUrl: string;
let alice: TestUser;
let bob: TestUser;
let roomId: string;
const mem = memories("mxdb-e2ee-");
const tempDir = () => mem.tempDir();
const close = (m: Memory) => mem.close(m);

function memory(options: Partial<MemoryOptions>): Promise<Memory> {
  return mem.open({ homeserver: baseUrl, rooms: { main: roomId }, ...options } as MemoryOptions);
}

before(async () => {
  baseUrl = (await testHomeserver()).info.baseUrl;
  [alice, bob] = await Promise.all([newUser("alice"), newUser("bob")]);
  roomId = await sharedRoom(alice, [bob], { encrypted: true });
});
after(async () => {
  await mem.cleanup();
});

test("values in an encrypted room: Megolm events referenced from state, read by another user's device, after restarts and by a second device", { timeout: 600_000 }, async () => {
  const aliceStore = tempDir();
  // Bob's device exists (keys uploaded) before Alice writes, so the room key reaches it.
  const b = await memory({ accessToken: bob.accessToken });
  const a = await memory({ accessToken: alice.accessToken, store: aliceStore });
  const trace = memoryTraceSink();
  await a.put("twim", { hello: "world", n: 1 });
  await a.put("plain-number", 42);
  assert.deepEqual(await a.get("twim"), { hello: "world", n: 1 });

  // On the wire: state holds only a reference; the event is m.room.encrypted.
  const state = (await alice.client.send(getStateContent, { roomId, eventType: "dev.opsdroid.database", stateKey: "" })) as Record<string, { encrypted_val: string }>;
  assert.deepEqual(Object.keys(state).sort(), ["plain-number", "twim"]);
  const ref = state.twim!.encrypted_val;
  assert.match(ref, /^\$/);
  const ev = await alice.client.send(getEvent, { roomId, eventId: ref });
  assert.equal(ev.type, "m.room.encrypted");
  assert.equal(ev.content.algorithm, "m.megolm.v1.aes-sha2");
  assert.ok(!JSON.stringify(ev).includes("world"));

  // Another user's device decrypts (its room key came over Olm in its sync).
  await eventually(() => b.get("twim").catch((e: unknown) => e), (v) => !(v instanceof Error), 20_000);
  assert.deepEqual(await b.get("twim"), { hello: "world", n: 1 });
  assert.equal(await b.get("plain-number"), 42);
  // delete returns the decrypted value.
  assert.equal(await b.delete("plain-number"), 42);
  await close(b);

  // A new process with the same store reads every earlier value with no other device online.
  await close(a);
  // Key forwarding (src/crypto/README.md "Who gets room keys"): by default only to a device the
  // session was delivered to; this test then widens it to show a device the caller chose gets the key.
  let trustNewDevices = false;
  const refused: string[] = [];
  const a2 = await memory({
    accessToken: alice.accessToken,
    store: aliceStore,
    trace,
    forwardRoomKeysTo: (_d, r) => r.sharedWith || trustNewDevices,
    onError: (e) => {
      if (e instanceof UntrustedKeyShareError) refused.push(e.message);
    },
  });
  assert.deepEqual(await a2.get("twim"), { hello: "world", n: 1 });
  // Served from the cache after the first decryption: no second GET of the event.
  const gets = () => trace.records.filter((r) => r.method === "GET" && r.url.includes("/event/")).length;
  const before = gets();
  assert.deepEqual(await a2.get("twim"), { hello: "world", n: 1 });
  assert.equal(gets(), before);
  // The same token without its store would be a new Olm account for a device that has keys already:
  // refused with the reason, nothing written.
  await a2.put("doomed", { n: 2 });
  await a2.flush();
  const stranger = await memory({ accessToken: alice.accessToken });
  // Right after open, never absent: the value is there and cannot be read (issue 12 part 6).
  const early = await stranger.get("twim").catch((e: unknown) => e);
  assert.ok(early instanceof UndecryptableValueError, `got ${String(early)}`);
  assert.ok((await stranger.dump().catch((e: unknown) => e)) instanceof UndecryptableValueError);
  // watch reports another writer's value it cannot read as its error; delete still deletes and says what it could not read.
  const changes = stranger.watch();
  const next = changes.next();
  await a2.put("watched", 3);
  const seen = (await next).value;
  assert.equal(seen?.key, "watched");
  assert.ok(seen?.value instanceof UndecryptableValueError, String(seen?.value));
  await changes.return(undefined);
  const deleted = await stranger.delete("doomed");
  assert.ok(deleted instanceof UndecryptableValueError, String(deleted));
  await stranger.flush();
  assert.equal(await eventually(() => a2.get("doomed"), (v) => v === undefined, 30_000, 200), undefined);
  await assert.rejects(stranger.put("k", 1), (e: unknown) => e instanceof EncryptionUnavailableError && /already has encryption keys/.test(e.message));
  await close(stranger);
  await a2.put("after-restart", ["x"]);
  assert.deepEqual(await a2.get("after-restart"), ["x"]);

  // A device added to the account with the password (a rogue one, as far as a2 knows) asks for every
  // room key it cannot read and gets none: a2 refuses it (never shared with it).
  const rogue = await memory({ userId: alice.userId, password: alice.password, store: tempDir() });
  const refusedRead = await rogue.get("twim").catch((e: unknown) => e);
  assert.ok(refusedRead instanceof UndecryptableValueError, String(refusedRead));
  await eventually(() => refused.filter((m) => m.includes(rogue.deviceId!)), (v) => v.length > 0, 30_000, 200);
  await a2.flush();
  const still = await rogue.get("twim").catch((e: unknown) => e);
  assert.ok(still instanceof UndecryptableValueError && still.cause instanceof UnknownSessionError, String(still));
  await close(rogue);

  // A second device of the same account, started later and trusted by the caller's policy: the key is forwarded by the first device.
  trustNewDevices = true;
  const second = await memory({ userId: alice.userId, password: alice.password, store: tempDir() });
  assert.notEqual(second.deviceId, a2.deviceId);
  // It never had the room key: the first read is refused (never the reference) and asks for the key.
  const first = await second.get("twim").catch((e: unknown) => e);
  assert.ok(first instanceof UndecryptableValueError, String(first));
  assert.ok(first.cause instanceof UnknownSessionError);
  assert.equal(first.eventId, ref);
  assert.match(first.message, /requested from our other devices/);
  const got = await eventually(() => second.get("twim").catch((e: unknown) => e), (v) => !(v instanceof Error), 30_000, 200);
  assert.deepEqual(got, { hello: "world", n: 1 });
  assert.deepEqual(await second.get("after-restart"), ["x"]);
});
