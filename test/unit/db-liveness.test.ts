/**
 * Memory.open never hangs (timeoutMs, signal, a loop that dies), flush/close never hang, and the
 * values handed out (get, delete, watch, dump) are the caller's own copies. A small in-process
 * homeserver (test/helpers/fake-room-server.ts); time on a manual or fake clock, never real sleeps.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AbortedError, MatrixError, Memory, OpenTimeoutError, StoreFormatError } from "../../src/index.js";
import type { Clock } from "../../src/http/types.js";
import { FILE_STORE_NAME } from "../../src/store/file-store.js";
import { MemoryStore } from "../../src/store/store.js";
import { STORE_KEYS } from "../../src/sync/store-keys.js";
import { fakeRoomServer, ROOM } from "../helpers/fake-room-server.js";
import { manualClock } from "../helpers/manual-clock.js";
import { fakeClock } from "../helpers/msw-transport.js";

const DB = "dev.opsdroid.database";

function open(server: ReturnType<typeof fakeRoomServer>, clock: Clock, extra: Partial<Parameters<typeof Memory.open>[0]> = {}) {
  const errors: unknown[] = [];
  const memory = Memory.open({
    homeserver: "http://127.0.0.1:8008",
    accessToken: "secret-token",
    rooms: { main: ROOM },
    encryption: false,
    transport: server.transport,
    clock,
    // fakeClock's sleeps return at once: time limits on it would fire before any answer.
    timeoutMs: Infinity,
    syncDeadlineMarginMs: Infinity,
    onError: (e) => errors.push(e),
    ...extra,
  });
  return { memory, errors };
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 10_000 && !cond(); i++) await new Promise((r) => setImmediate(r));
  assert.ok(cond(), what);
}

test("open with a /sync that never answers fails with OpenTimeoutError at timeoutMs, and leaves nothing in flight", { timeout: 60_000 }, async () => {
  const server = fakeRoomServer();
  server.state.sync = "hang";
  const clock = manualClock();
  const { memory } = open(server, clock, { timeoutMs: 30_000 });
  await until(() => server.state.inFlight === 1, "the first /sync is in flight");
  let settled = false;
  void memory.then(() => (settled = true), () => (settled = true));
  clock.advance(29_999);
  await new Promise((r) => setImmediate(r));
  assert.equal(settled, false, "not before the time limit");
  clock.advance(1);
  await assert.rejects(memory, (e: unknown) => e instanceof OpenTimeoutError && e.timeoutMs === 30_000);
  assert.equal(server.state.inFlight, 0, "the hung /sync was aborted");
  assert.equal(server.state.aborted, 1);
  assert.deepEqual(clock.pending(), [], "no timer of the failed open is left");
});

test("open aborted by its signal fails with AbortedError and stops the sync loop", { timeout: 60_000 }, async () => {
  const server = fakeRoomServer();
  server.state.sync = "hang";
  const clock = manualClock();
  const ctrl = new AbortController();
  const { memory } = open(server, clock, { signal: ctrl.signal, syncDeadlineMarginMs: 15_000 });
  await until(() => server.state.inFlight === 1, "the first /sync is in flight");
  ctrl.abort(new Error("the caller gave up"));
  await assert.rejects(memory, (e: unknown) => e instanceof AbortedError);
  assert.equal(server.state.inFlight, 0);
  assert.deepEqual(clock.pending(), [], "the sync deadline timer is gone too");
  const already = open(fakeRoomServer(), clock, { signal: ctrl.signal });
  await assert.rejects(already.memory, (e: unknown) => e instanceof AbortedError, "an already aborted signal refuses at once");
});

test("open fails with the loop's error: a persistent 4xx, a damaged store", { timeout: 60_000 }, async () => {
  const server = fakeRoomServer();
  server.state.sync = { status: 403, body: { errcode: "M_FORBIDDEN", error: "no" } };
  await assert.rejects(open(server, fakeClock()).memory, (e: unknown) => e instanceof MatrixError && e.errcode === "M_FORBIDDEN");
  assert.equal(server.state.inFlight, 0);

  const store = new MemoryStore();
  await store.setMany({ [STORE_KEYS.nextBatch]: "3", [STORE_KEYS.roomList]: JSON.stringify([ROOM]), [STORE_KEYS.room(ROOM)]: "{truncated" });
  await assert.rejects(open(fakeRoomServer(), fakeClock(), { store }).memory, (e: unknown) => e instanceof StoreFormatError && e.key === STORE_KEYS.room(ROOM));
});

test("after the sync loop dies, put rejects with its error; flush (it checks the server itself) and close() resolve", { timeout: 60_000 }, async () => {
  const server = fakeRoomServer();
  const { memory } = open(server, fakeClock());
  const db = await memory;
  await db.put("a", 1);
  await db.flush();
  server.state.sync = { status: 401, body: { errcode: "M_UNKNOWN_TOKEN", error: "gone" } };
  server.write("m.room.topic", "", { topic: "wake the long-poll" });
  const dead = (e: unknown) => e instanceof MatrixError && e.errcode === "M_UNKNOWN_TOKEN";
  await until(() => (db as unknown as { sync: { failure: unknown } }).sync.failure !== undefined, "the loop ended");
  await assert.rejects(db.put("b", 2), dead);
  await db.flush(); // "a" was verified on the server; nothing else was accepted
  await db.close();
  assert.equal(server.state.inFlight, 0);
  assert.deepEqual(server.state.puts.map((p) => p.content), [{ a: 1 }], "nothing was written after the loop died");
});

test("close() with a /sync hung and no deadline still returns: the request is aborted", { timeout: 60_000 }, async () => {
  const server = fakeRoomServer();
  const db = await open(server, fakeClock()).memory;
  server.state.sync = "hang";
  server.write("m.room.topic", "", { topic: "the next /sync will hang" });
  await until(() => server.state.inFlight === 1, "a /sync hangs");
  await db.close();
  assert.equal(server.state.inFlight, 0);
});

test("values from get, dump, delete and watch are copies: mutating them changes no later read or PUT", { timeout: 60_000 }, async () => {
  const server = fakeRoomServer();
  server.write(DB, "", { x: { n: 1, list: [1] }, y: { n: 2 }, z: { n: 3 } });
  const db = await open(server, fakeClock()).memory;
  const original = { x: { n: 1, list: [1] }, y: { n: 2 }, z: { n: 3 } };

  const got = (await db.get("x")) as { n: number; list: number[] };
  got.n = 99;
  got.list.push(2);
  const dumped = (await db.dump()) as Record<string, { n: number }>;
  dumped.y!.n = 99;
  assert.deepEqual(await db.dump(), original, "get and dump hand out copies");

  const watch = db.watch();
  const next = watch.next();
  server.write(DB, "", { ...original, w: { n: 4 } });
  const change = (await next).value as { key: string; value: { n: number } };
  assert.equal(change.key, "w");
  change.value.n = 99;
  assert.deepEqual(await db.get("w"), { n: 4 }, "a watched value is a copy");

  const deleted = (await db.delete("z")) as { n: number };
  assert.deepEqual(deleted, { n: 3 });
  await db.put("v", 5);
  await db.flush();
  deleted.n = 99;
  // Every PUT carried the values as the memory had them, never the caller's changes.
  for (const p of server.state.puts) {
    assert.deepEqual(p.content.x, original.x);
    assert.deepEqual(p.content.w, { n: 4 });
  }
  assert.deepEqual(server.state.puts.at(-1)!.content, { x: original.x, y: original.y, w: { n: 4 }, v: 5 });
  const [again] = (await db.delete(["y"])) as [{ n: number }];
  again.n = 99;
  assert.deepEqual(await db.dump(), { x: original.x, w: { n: 4 }, v: 5 });
  await watch.return();
  await db.close();
});

test("a deleted value handed back is not the synced event's content: mutating it leaves the picture as the server has it", { timeout: 60_000 }, async () => {
  const server = fakeRoomServer();
  server.write(DB, "", { z: { n: 3 }, keep: 1 });
  const db = await open(server, fakeClock()).memory;
  const picture = () => (db as unknown as { sync: { room(id: string): { get(t: string, k: string): { content: Record<string, unknown> } } } }).sync.room(ROOM).get(DB, "").content;
  // Hold /sync so the delete is accepted but not yet seen back: the synced event still carries z.
  server.state.sync = "hang";
  server.write("m.room.topic", "", { topic: "hold" });
  await until(() => server.state.inFlight === 1, "a /sync is held");
  const deleted = (await db.delete("z")) as { n: number };
  deleted.n = 99;
  assert.deepEqual(picture().z, { n: 3 }, "the synced picture is unchanged by the caller's edit");
  server.state.sync = "answer";
  server.write("m.room.topic", "", { topic: "release" });
  await db.flush();
  assert.deepEqual(await db.dump(), { keep: 1 });
  await db.close();
});

test("a store file that is not JSON, or has an entry of the wrong type: open fails with StoreFormatError (file, key, cause)", { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "mxdb-bad-store-"));
  try {
    const file = join(dir, FILE_STORE_NAME);
    writeFileSync(file, '{"format": "mxdb-store", "version": 1, "entries": {');
    const server = fakeRoomServer();
    await assert.rejects(open(server, fakeClock(), { store: dir }).memory, (e: unknown) => e instanceof StoreFormatError && e.path === file && e.cause instanceof SyntaxError);
    assert.equal(server.state.puts.length, 0);
    writeFileSync(file, JSON.stringify({ format: "mxdb-store", version: 1, entries: { [STORE_KEYS.nextBatch]: 7 } }));
    await assert.rejects(open(fakeRoomServer(), fakeClock(), { store: dir }).memory, (e: unknown) => e instanceof StoreFormatError && e.key === STORE_KEYS.nextBatch);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
