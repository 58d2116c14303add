/**
 * The per-room limit on state writes in flight (src/db/room-write-queue.ts): a room's writes start one
 * after another in the order they were queued, writes of different rooms overlap, and the shared queue
 * stays the cap over all rooms. Tasks are held open by the test and finished one at a time.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import PQueue from "p-queue";
import { roomWriteQueue } from "../../src/db/room-write-queue.js";
import { checkOptions } from "../../src/db/options.js";
import { ConfigError } from "../../src/db/errors.js";

/** Let queued tasks start and settled promises run. */
async function turns(n = 20): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

/** Tasks that record when they start and end, and end only when the test says so. */
class Tasks {
  readonly log: string[] = [];
  private readonly open = new Map<string, () => void>();
  task(name: string): () => Promise<void> {
    return () =>
      new Promise<void>((resolve) => {
        this.log.push(`start ${name}`);
        this.open.set(name, () => {
          this.log.push(`end ${name}`);
          resolve();
        });
      });
  }
  running(): string[] {
    return [...this.open.keys()].sort();
  }
  async finish(name: string): Promise<void> {
    const end = this.open.get(name);
    assert.ok(end, `${name} is not running (running: ${this.running().join(", ")})`);
    this.open.delete(name);
    end();
    await turns();
  }
}

test("one room's writes run one at a time, in order; another room's run beside them", { timeout: 10_000 }, async () => {
  const shared = new PQueue({ concurrency: 32 });
  const a = roomWriteQueue(shared, 1);
  const b = roomWriteQueue(shared, 1);
  const t = new Tasks();
  const done = [a.add(t.task("a1")), a.add(t.task("a2")), b.add(t.task("b1")), a.add(t.task("a3")), b.add(t.task("b2"))];
  await turns();
  assert.deepEqual(t.running(), ["a1", "b1"]);
  await t.finish("a1");
  assert.deepEqual(t.running(), ["a2", "b1"]);
  await t.finish("b1");
  assert.deepEqual(t.running(), ["a2", "b2"]);
  await t.finish("a2");
  await t.finish("b2");
  await t.finish("a3");
  await Promise.all(done);
  assert.deepEqual(t.log, ["start a1", "start b1", "end a1", "start a2", "end b1", "start b2", "end a2", "start a3", "end b2", "end a3"]);
});

test("roomWriteConcurrency 2 keeps two of a room's writes in flight", { timeout: 10_000 }, async () => {
  const shared = new PQueue({ concurrency: 32 });
  const a = roomWriteQueue(shared, 2);
  const t = new Tasks();
  const done = ["a1", "a2", "a3", "a4"].map((n) => a.add(t.task(n)));
  await turns();
  assert.deepEqual(t.running(), ["a1", "a2"]);
  await t.finish("a2");
  assert.deepEqual(t.running(), ["a1", "a3"]);
  await t.finish("a1");
  assert.deepEqual(t.running(), ["a3", "a4"]);
  await t.finish("a3");
  await t.finish("a4");
  await Promise.all(done);
});

test("the shared queue stays the cap over all rooms (writeConcurrency)", { timeout: 10_000 }, async () => {
  const shared = new PQueue({ concurrency: 2 });
  const [a, b, c] = [roomWriteQueue(shared, 1), roomWriteQueue(shared, 1), roomWriteQueue(shared, 1)];
  const t = new Tasks();
  const done = [a.add(t.task("a1")), b.add(t.task("b1")), c.add(t.task("c1")), a.add(t.task("a2"))];
  await turns();
  assert.deepEqual(t.running(), ["a1", "b1"]);
  // c1 asked the shared queue first (a2 waited for a1, its room's write): c1 takes the free place.
  await t.finish("a1");
  assert.deepEqual(t.running(), ["b1", "c1"]);
  await t.finish("b1");
  assert.deepEqual(t.running(), ["a2", "c1"]);
  await t.finish("c1");
  await t.finish("a2");
  await Promise.all(done);
});

test("roomWriteConcurrency Infinity is the shared queue itself (no per-room limit)", { timeout: 10_000 }, () => {
  const shared = new PQueue({ concurrency: 32 });
  assert.equal(roomWriteQueue(shared, Infinity), shared);
});

test("roomWriteConcurrency and writeConcurrency other than an integer >= 1 or Infinity are a ConfigError", { timeout: 10_000 }, () => {
  const base = { homeserver: "http://127.0.0.1:8008", accessToken: "t" };
  for (const name of ["roomWriteConcurrency", "writeConcurrency"] as const) {
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      assert.throws(() => checkOptions({ ...base, [name]: bad }), (e: unknown) => e instanceof ConfigError && e.message === `${name} must be an integer >= 1 (or Infinity)`);
    }
    for (const good of [1, 2, Infinity]) assert.equal(checkOptions({ ...base, [name]: good })[name], good);
  }
});
