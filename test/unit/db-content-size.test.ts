/**
 * The size check of a put, measured member by member (src/db/content-size.ts), gives exactly the
 * bytes of src/db/size.ts's estimate of the whole event: compared on seeded random contents, and at
 * the 65,536-byte limit through Memory.put (the byte that fits is sent, the byte over is refused).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { EventTooLargeError, ImportTooLargeError, Memory } from "../../src/index.js";
import { EventSizer } from "../../src/db/content-size.js";
import { EVENT_TYPE, stateKeyFor } from "../../src/db/format.js";
import { estimateEventSize, MAX_EVENT_BYTES } from "../../src/db/size.js";
import { fakeRoomServer, ROOM, USER } from "../helpers/fake-room-server.js";
import { fakeClock } from "../helpers/msw-transport.js";
import { Prng } from "../sim/prng.js";

const SHAPE = { roomId: ROOM, sender: USER, type: EVENT_TYPE, stateKey: "" };
const whole = (content: Record<string, unknown>) => estimateEventSize({ ...SHAPE, content });

/** Strings with what changes a length: escapes, controls, two-, three- and four-byte UTF-8. */
function randomString(rng: Prng): string {
  const pieces = ["a", "Z", "0", " ", '"', "\\", "\n", "\u0001", "\u001f", "é", "ß", "€", "\u2028", "\uffff", "😀", "𝄞", "/", "<"];
  return Array.from({ length: rng.int(0, 12) }, () => rng.pick(pieces)).join("");
}

function randomValue(rng: Prng, depth = 0): unknown {
  switch (rng.int(0, depth > 2 ? 3 : 5)) {
    case 0:
      return rng.pick([null, true, false]);
    case 1:
      return rng.pick([0, -0, 1, -1, 2 ** 53 - 1, -(2 ** 53 - 1), rng.int(-1e9, 1e9)]);
    case 2:
    case 3:
      return randomString(rng);
    case 4:
      return Array.from({ length: rng.int(0, 4) }, () => randomValue(rng, depth + 1));
    default:
      return Object.fromEntries(Array.from({ length: rng.int(0, 4) }, () => [randomString(rng), randomValue(rng, depth + 1)]));
  }
}

test("EventSizer.size equals estimateEventSize of the content with the changes applied, on 300 seeded random contents", { timeout: 30_000 }, () => {
  const rng = new Prng(15);
  const sizer = new EventSizer(SHAPE);
  let content: Record<string, unknown> = {};
  for (let round = 0; round < 300; round++) {
    // Keep most members (their measure is remembered), change some, add some, remove some.
    const next: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(content)) if (!rng.chance(0.1)) next[k] = rng.chance(0.2) ? randomValue(rng) : v;
    for (let i = rng.int(0, 5); i > 0; i--) next[`${randomString(rng)}${round}`] = randomValue(rng);
    content = next;
    const changes = new Map<string, unknown>();
    const keys = Object.keys(content);
    for (let i = rng.int(0, 3); i > 0; i--) {
      const key = keys.length > 0 && rng.chance(0.5) ? rng.pick(keys) : randomString(rng);
      changes.set(key, rng.chance(0.3) ? undefined : randomValue(rng));
    }
    const applied: Record<string, unknown> = { ...content };
    for (const [k, v] of changes) if (v === undefined) delete applied[k];
    else applied[k] = v;
    assert.equal(sizer.size(content, changes), whole(applied), `round ${round}`);
    assert.equal(sizer.size(content), whole(content), `round ${round}, no changes`);
  }
  assert.equal(sizer.size({}), whole({}));
});

test("a put that brings a shared state key's event to exactly 65,536 bytes is sent; one byte more is refused before sending, with the exact size", { timeout: 60_000 }, async () => {
  const server = fakeRoomServer();
  const db = await Memory.open({ homeserver: "http://127.0.0.1:8008", accessToken: "t", rooms: { main: ROOM }, encryption: false, singleStateKey: true, largeValues: "refuse", transport: server.transport, clock: fakeClock(), timeoutMs: Infinity, syncDeadlineMarginMs: Infinity });
  const stateKey = stateKeyFor(true, "k");
  const size = (content: Record<string, unknown>) => estimateEventSize({ ...SHAPE, stateKey, content });
  const keys: Record<string, unknown> = {};
  for (let i = 0; i < 2000; i++) keys[`key-${String(i).padStart(5, "0")}`] = i % 3 === 0 ? `wert-${i}-é` : i;
  await Promise.all(Object.entries(keys).map(([k, v]) => db.put(k, v)));
  // "😀" is four bytes of UTF-8: the pad is measured in bytes, not characters.
  const room = 65_536 - size({ ...keys, pad: "😀" });
  assert.ok(room > 0);
  const pad = `😀${"x".repeat(room)}`;
  assert.equal(size({ ...keys, pad }), MAX_EVENT_BYTES);
  await db.put("pad", pad);
  await db.flush();
  assert.deepEqual(server.state.puts.at(-1)!.content, { ...keys, pad });
  const sent = server.state.puts.length;

  const over = `${pad}x`;
  await assert.rejects(db.put("pad", over), (e: unknown) => e instanceof EventTooLargeError && e.key === "pad" && e.size === MAX_EVENT_BYTES + 1 && e.limit === MAX_EVENT_BYTES);
  await assert.rejects(db.put("one", 1), (e: unknown) => e instanceof EventTooLargeError && e.size === size({ ...keys, pad, one: 1 }) && e.limit === MAX_EVENT_BYTES);
  // Replacing a member by one of the same size, or a shorter one, still fits.
  await Promise.all([db.put("pad", `😀${"y".repeat(room)}`), db.put("key-00001", 7)]);
  await db.flush();
  assert.equal(server.state.puts.length, sent + 1);
  assert.deepEqual(server.state.puts.at(-1)!.content, { ...keys, "key-00001": 7, pad: `😀${"y".repeat(room)}` });
  assert.equal(await db.get("one"), undefined);
  await db.close();
});

test("putAll: 10,000 keys in one shared state key are refused before any request, with the whole event's exact size; a value too large alone is its own EventTooLargeError", { timeout: 60_000 }, async () => {
  const entries = Array.from({ length: 10_000 }, (_, i) => ({ key: `key-${String(i).padStart(5, "0")}`, value: i }));
  const all = Object.fromEntries(entries.map((e) => [e.key, e.value]));
  for (const largeValues of ["media", "refuse"] as const) {
    const server = fakeRoomServer();
    const seen: string[] = [];
    const transport: typeof server.transport = (req) => (req.method !== "GET" || !req.url.includes("/sync") ? seen.push(`${req.method} ${new URL(req.url).pathname}`) : 0, server.transport(req));
    const db = await Memory.open({ homeserver: "http://127.0.0.1:8008", accessToken: "t", rooms: { main: ROOM }, encryption: false, singleStateKey: true, largeValues, transport, clock: fakeClock(), timeoutMs: Infinity, syncDeadlineMarginMs: Infinity });
    const before = [...seen];
    const limit = largeValues === "media" ? 48 * 1024 : MAX_EVENT_BYTES;
    await assert.rejects(db.putAll(entries, { batch: 1000 }), (e: unknown) => e instanceof ImportTooLargeError && e.keys === 10_000 && e.stateKey === "" && e.size === whole(all) && e.limit === limit);
    // One value too large for the event, refused: it is that key's EventTooLargeError.
    const huge = [{ key: "huge", value: "x".repeat(70_000) }];
    if (largeValues === "refuse") await assert.rejects(db.putAll(huge), (e: unknown) => e instanceof EventTooLargeError && e.key === "huge" && e.size === whole({ huge: huge[0]!.value }));
    assert.deepEqual(seen, before, "nothing sent");
    assert.deepEqual(server.state.puts, []);
    assert.deepEqual(await db.dump(), {});
    await db.close();
  }
});

test("putAll: 2,000 keys of a shared state key in one PUT, in batches with progress; keys that hold their value already are not written", { timeout: 60_000 }, async () => {
  const server = fakeRoomServer();
  const db = await Memory.open({ homeserver: "http://127.0.0.1:8008", accessToken: "t", rooms: { main: ROOM }, encryption: false, singleStateKey: true, transport: server.transport, clock: fakeClock(), timeoutMs: Infinity, syncDeadlineMarginMs: Infinity });
  await db.put("key-00000", 0);
  const entries = Array.from({ length: 2000 }, (_, i) => ({ key: `key-${String(i).padStart(5, "0")}`, value: i % 2 ? i : { i, s: "é" } }));
  const done: number[] = [];
  await db.putAll(entries.slice(0, 1500), { batch: 1000, progress: (n) => done.push(n) });
  await db.putAll(entries.slice(0, 1500));
  await db.flush();
  assert.equal(server.state.puts.length, 3, "nothing to write: no PUT");
  await db.putAll(entries);
  await db.flush();
  assert.deepEqual(done, [1000, 1500]);
  const all = Object.fromEntries(entries.map((e) => [e.key, e.value]));
  assert.deepEqual(await db.dump(), all);
  // The first put, then one PUT per batch.
  assert.deepEqual(server.state.puts.map((p) => Object.keys(p.content).length), [1, 1000, 1500, 2000]);
  assert.deepEqual(server.state.puts.at(-1)!.content, all);
  // The event's bytes were measured as a whole, exactly as the per-put check would: the same estimate.
  assert.ok(whole(all) <= 48 * 1024);
  await db.close();
});
