/** Every bad input gets its typed error before anything is sent, and the memory is unchanged. */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { ConfigError, EncryptionUnavailableError, EventTooLargeError, InvalidKeyError, InvalidValueError, Memory, MemoryClosedError, UnknownRoomError } from "../../src/index.js";
import { memoryTraceSink } from "../../src/http/trace.js";
import { newUser, testHomeserver, type TestUser } from "../helpers/homeserver.js";
import { sharedRoom } from "../helpers/rooms.js";

let baseUrl: string;
let alice: TestUser;
let roomId: string;
let encryptedRoomId: string;
const open: Memory[] = [];

before(async () => {
  baseUrl = (await testHomeserver()).info.baseUrl;
  alice = await newUser("alice");
  [roomId, encryptedRoomId] = await Promise.all([sharedRoom(alice), sharedRoom(alice, [], { encrypted: true })]);
});
after(async () => {
  await Promise.all(open.map((m) => m.close()));
});

async function openWithTrace(singleStateKey: boolean | string, room = roomId, largeValues: "media" | "refuse" = "media") {
  const trace = memoryTraceSink();
  const db = await Memory.open({ homeserver: baseUrl, accessToken: alice.accessToken, rooms: { main: room }, singleStateKey, syncTimeoutMs: 5000, trace, largeValues });
  open.push(db);
  await db.put("keep", { safe: true });
  await db.flush();
  return { db, trace };
}

/** Requests other than the sync long-poll, sent since `from`. */
const sentSince = (trace: ReturnType<typeof memoryTraceSink>, from: number) => trace.records.slice(from).filter((r) => !r.url.includes("/sync?"));

function cycle(): unknown {
  const a: Record<string, unknown> = { name: "a" };
  a.self = { back: a };
  return a;
}

const badValues: Array<[string, () => unknown, RegExp]> = [
  ["undefined", () => undefined, /undefined/],
  ["a function", () => () => 1, /function/],
  ["a symbol", () => Symbol("s"), /symbol/],
  ["a BigInt", () => 10n, /BigInt/],
  ["a nested undefined", () => ({ a: { b: undefined } }), /\$\.a\.b is undefined/],
  ["a cycle", cycle, /cycle/],
  ["a float", () => ({ ratio: 0.5 }), /float/],
  ["an integer above 2^53-1", () => 2 ** 53, /2\^53/],
  ["an integer below -(2^53-1)", () => [-(2 ** 53) - 2], /2\^53/],
  ["NaN", () => NaN, /NaN/],
  ["Infinity", () => Infinity, /Infinity/],
  ["a Date", () => new Date(0), /Date/],
  ["a Map", () => new Map(), /Map/],
  ["a sparse array", () => [1, , 3], /sparse/], // eslint-disable-line no-sparse-arrays
  ["the shape of an encrypted reference", () => ({ encrypted_val: "$x" }), /encrypted reference/],
  ["the shape of a media reference", () => ({ mxdb_media: { v: 1, url: "mxc://x/y" } }), /media reference/],
];

for (const [name, make, message] of badValues) {
  test(`put of ${name} is refused with InvalidValueError and nothing is sent`, { timeout: 180_000 }, async () => {
    const { db, trace } = await shared();
    const before = trace.records.length;
    await assert.rejects(db.put("k", make()), (e: unknown) => e instanceof InvalidValueError && e.key === "k" && message.test(e.message));
    assert.deepEqual(sentSince(trace, before), []);
    assert.deepEqual(await db.get("keep"), { safe: true });
    assert.equal(await db.get("k"), undefined);
  });
}

let sharedDb: Promise<Awaited<ReturnType<typeof openWithTrace>>> | undefined;
const shared = () => (sharedDb ??= openWithTrace(true, roomId, "refuse"));

// With largeValues "refuse" (the default, "media", moves such values out: test/integration/db-large-values.test.ts).
test("content over 65,536 bytes is refused with the key, the size and a hint", { timeout: 180_000 }, async () => {
  const { db, trace } = await shared();
  const before = trace.records.length;
  await assert.rejects(db.put("huge", "x".repeat(70_000)), (e: unknown) => e instanceof EventTooLargeError && e.key === "huge" && e.size > 65_536 && /singleStateKey: false/.test(e.message));
  // Many small keys that together overflow the one shared event: the key that tips it over is named.
  for (let i = 0; i < 6; i++) await db.put(`chunk${i}`, "y".repeat(10_000));
  await assert.rejects(db.put("chunk6", "y".repeat(10_000)), (e: unknown) => e instanceof EventTooLargeError && e.key === "chunk6");
  assert.equal(sentSince(trace, before).filter((r) => r.method === "PUT").length <= 6, true);
  await db.delete(["chunk0", "chunk1", "chunk2", "chunk3", "chunk4", "chunk5"]);
  assert.deepEqual(await db.get("keep"), { safe: true });
});

test("with singleStateKey false, keys over 255 bytes or starting with @ are refused", { timeout: 180_000 }, async () => {
  const { db, trace } = await openWithTrace(false);
  const before = trace.records.length;
  await assert.rejects(db.put("k".repeat(256), 1), (e: unknown) => e instanceof InvalidKeyError && /255 bytes/.test(e.message));
  await assert.rejects(db.put("é".repeat(128), 1), InvalidKeyError); // 256 bytes of UTF-8
  await assert.rejects(db.put("@alice:example.org", 1), (e: unknown) => e instanceof InvalidKeyError && /'@'/.test(e.message));
  await assert.rejects(db.put(42 as unknown as string, 1), InvalidKeyError);
  await assert.rejects(db.put("..", 1), InvalidKeyError);
  assert.deepEqual(sentSince(trace, before), []);
  await db.put("k".repeat(255), "fits");
  assert.equal(await db.get("k".repeat(255)), "fits");
});

test("an unknown room name is refused, in open and in inRoom", { timeout: 180_000 }, async () => {
  await assert.rejects(
    Memory.open({ homeserver: baseUrl, accessToken: alice.accessToken, rooms: { main: roomId }, defaultRoom: "nope", syncTimeoutMs: 5000 }),
    (e: unknown) => e instanceof UnknownRoomError && /nope/.test(e.message) && /main/.test(e.message),
  );
  const { db } = await shared();
  await assert.rejects(db.inRoom("#missing:localhost", () => db.put("k", 1)), UnknownRoomError);
  await assert.rejects(db.inRoom("not-a-room", () => db.get("k")), UnknownRoomError);
});

test("bad options are ConfigErrors before any request", { timeout: 180_000 }, async () => {
  await assert.rejects(Memory.open({ homeserver: "ftp://127.0.0.1", accessToken: "x" }), ConfigError);
  await assert.rejects(Memory.open({ homeserver: baseUrl }), ConfigError);
  await assert.rejects(Memory.open({ homeserver: baseUrl, accessToken: "x", rooms: { main: "general" } }), ConfigError);
  await assert.rejects(Memory.open({ homeserver: baseUrl, accessToken: "x", singleStateKey: 3 as unknown as boolean }), ConfigError);
});

test("a put into an encrypted room with shouldEncrypt never writes plaintext", { timeout: 180_000 }, async () => {
  // encryption: false leaves out the crypto layer, so the put must be refused (with it, values are
  // encrypted: test/integration/e2ee-*.test.ts).
  const trace = memoryTraceSink();
  const db = await Memory.open({ homeserver: baseUrl, accessToken: alice.accessToken, rooms: { main: encryptedRoomId }, syncTimeoutMs: 5000, trace, encryption: false });
  open.push(db);
  const before = trace.records.length;
  await assert.rejects(db.put("secret", "value"), EncryptionUnavailableError);
  assert.deepEqual(sentSince(trace, before), []);
  const plain = await Memory.open({ homeserver: baseUrl, accessToken: alice.accessToken, rooms: { main: encryptedRoomId }, shouldEncrypt: false, syncTimeoutMs: 5000 });
  open.push(plain);
  await plain.put("deliberately", "plaintext");
  assert.equal(await plain.get("deliberately"), "plaintext");
});

test("a closed memory refuses calls", { timeout: 180_000 }, async () => {
  const db = await Memory.open({ homeserver: baseUrl, accessToken: alice.accessToken, rooms: { main: roomId }, syncTimeoutMs: 5000 });
  await db.close();
  await assert.rejects(db.get("keep"), MemoryClosedError);
  await assert.rejects(db.put("k", 1), MemoryClosedError);
});
