/**
 * The write queue and its verification, over a tiny homeserver model: each PUT makes an event that
 * replaces the current one (or, when the test says so, forks off an older parent and wins or
 * loses), and the writer checks its ops against the model's current event.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import PQueue from "p-queue";
import type { LineageEvent } from "../../src/db/lineage.js";
import { StateKeyWriter, type StateHead, type WriterContext } from "../../src/db/writer.js";
import { UnverifiableWriteError } from "../../src/db/errors.js";


/** Let deferred batches and settled promises run. */
async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

/** A PUT whose answer never arrived (the server may have applied it). */
class Lost extends Error {}

class ModelServer {
  readonly events = new Map<string, LineageEvent>();
  current: string | undefined;
  private n = 0;
  private ts = 1000;
  /** The next PUT forks off this parent instead of the current event; `wins` says whether it becomes current. */
  nextFork: { parent: string | undefined; wins: boolean } | undefined;
  puts: Array<Record<string, unknown>> = [];
  failNext: unknown;
  loseNext = false;
  lostThen: unknown = "after ours";
  /** The sender of the next events (ours unless a test says otherwise). */
  sender = "@me:hs";
  /** The first PUT waits for this (then it is cleared). */
  hold: Promise<void> | undefined;

  write(content: Record<string, unknown>, replaces = this.current, makeCurrent = true): string {
    const eventId = `$e${++this.n}`;
    this.events.set(eventId, { eventId, replaces, content, ts: this.ts++, sender: this.sender });
    if (makeCurrent) this.current = eventId;
    return eventId;
  }

  content(): Record<string, unknown> {
    return this.current ? this.events.get(this.current)!.content : {};
  }

  head(): StateHead | undefined {
    return this.current ? { eventId: this.current, content: this.content(), ts: this.events.get(this.current)!.ts } : undefined;
  }
}

/** Virtual time for the settle window: `sleep` moves it on and runs what was due by then. */
class VirtualTime {
  t = 0;
  private timers: Array<{ at: number; fn: () => void }> = [];
  at(at: number, fn: () => void): void {
    this.timers.push({ at, fn });
  }
  async sleep(ms: number): Promise<void> {
    this.t += ms;
    for (const due of this.timers.filter((x) => x.at <= this.t)) {
      this.timers.splice(this.timers.indexOf(due), 1);
      due.fn();
    }
  }
}

function harness(server = new ModelServer(), options: { synced?: () => StateHead | undefined; shared?: boolean; time?: VirtualTime; settleMs?: number; putMs?: number; linear?: string } = {}) {
  const errors: unknown[] = [];
  const ctx: WriterContext = {
    queue: new PQueue({ concurrency: 4 }),
    userId: "@me:hs",
    synced: options.synced ?? (() => server.head()),
    putState: async (_s, content) => {
      server.puts.push(content);
      if (options.time && options.putMs) options.time.t += options.putMs;
      const hold = server.hold;
      server.hold = undefined;
      if (hold) await hold;
      if (server.loseNext) {
        // Applied, but the answer is lost; meanwhile another writer builds on it.
        server.loseNext = false;
        server.write(content);
        server.sender = "@other:hs";
        server.write({ ...server.content(), other: server.lostThen });
        server.sender = "@me:hs";
        throw new Lost("response lost");
      }
      if (server.failNext !== undefined) {
        const e = server.failNext;
        server.failNext = undefined;
        throw e;
      }
      const fork = server.nextFork;
      server.nextFork = undefined;
      return fork ? server.write(content, fork.parent, fork.wins) : server.write(content);
    },
    currentEvent: async () => (server.current ? server.events.get(server.current) : undefined),
    fetchEvent: async (id) => server.events.get(id),
    settleMs: options.settleMs ?? 0,
    shared: options.shared ?? false,
    writeTimeoutMs: 60_000,
    retryDelay: (e) => (e instanceof Lost ? 0 : undefined),
    now: () => options.time?.t ?? 0,
    sleep: async (ms) => options.time?.sleep(ms),
    defer: (fn) => setImmediate(fn),
    onError: (e) => errors.push(e),
    ...(options.linear !== undefined ? { linearReplacesState: async () => options.linear } : {}),
  };
  return { writer: new StateKeyWriter("", ctx), server, errors };
}

test("a burst in one tick becomes one PUT; puts during the flight are merged into the next", { timeout: 10_000 }, async () => {
  const h = harness();
  let release!: () => void;
  h.server.hold = new Promise<void>((r) => (release = r));
  const first = Array.from({ length: 100 }, (_, i) => h.writer.enqueue({ kind: "put", key: `k${i % 10}`, value: i }));
  await turns(4);
  assert.equal(h.server.puts.length, 1);
  const second = Array.from({ length: 50 }, (_, i) => h.writer.enqueue({ kind: "put", key: `k${i % 10}`, value: 1000 + i }));
  assert.equal(h.writer.lookup("k3").value, 1043, "reads see queued writes at once");
  release();
  await Promise.all([...first, ...second]);
  assert.equal(h.server.puts.length, 2);
  assert.deepEqual(h.server.content(), Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`k${i}`, 1040 + i])));
});

test("a put that changes nothing sends nothing", { timeout: 10_000 }, async () => {
  const h = harness();
  h.server.write({ a: 1 });
  await h.writer.enqueue({ kind: "put", key: "a", value: 1 });
  assert.deepEqual(h.server.puts, []);
});

test("a failed write rejects its ops and reads fall back to the synced state", { timeout: 10_000 }, async () => {
  const h = harness();
  h.server.write({ a: 1 });
  h.server.failNext = new Error("403");
  await assert.rejects(h.writer.enqueue({ kind: "put", key: "a", value: 2 }), /403/);
  assert.deepEqual(h.writer.lookup("a"), { found: true, value: 1 });
  assert.equal(h.writer.idle, true);
});

test("clobber rule: our write built on a stale picture puts back the change it dropped", { timeout: 10_000 }, async () => {
  const server = new ModelServer();
  server.write({ mine: 0 });
  const stale = server.head();
  const h = harness(server, { synced: () => stale });
  server.write({ mine: 0, theirs: "t" }); // another writer, not yet synced here
  await h.writer.enqueue({ kind: "put", key: "mine", value: 1 });
  assert.deepEqual(server.content(), { mine: 1 }, "the PUT dropped theirs");
  await h.writer.verify();
  assert.deepEqual(server.content(), { mine: 1, theirs: "t" });
});

test("clobber rule: their deliberate change of a key we wrote earlier is put back too", { timeout: 10_000 }, async () => {
  const server = new ModelServer();
  let synced = server.head();
  const h = harness(server, { synced: () => synced });
  await h.writer.enqueue({ kind: "put", key: "x", value: "ours" });
  await h.writer.verify();
  synced = server.head();
  // They saw our x and changed it; we have not synced that yet and put y on our old picture.
  server.write({ ...server.content(), x: "theirs, on purpose" });
  await h.writer.enqueue({ kind: "put", key: "y", value: 1 });
  assert.deepEqual(server.content(), { x: "ours", y: 1 });
  await h.writer.verify();
  assert.deepEqual(server.content(), { x: "theirs, on purpose", y: 1 });
});

test("survival rule: our write lost a fork to a sibling; verify applies our op again", { timeout: 10_000 }, async () => {
  const server = new ModelServer();
  const parent = server.write({ base: 1 });
  const h = harness(server);
  server.nextFork = { parent, wins: false };
  await h.writer.enqueue({ kind: "put", key: "mine", value: 1 });
  server.write({ base: 1, theirs: 2 }, parent); // the sibling wins state resolution
  await h.writer.verify();
  assert.deepEqual(server.content(), { base: 1, theirs: 2, mine: 1 });
});

test("on a server whose replaces_state is linear (Dendrite), a lost op fails verify with UnverifiableWriteError and nothing is repaired", { timeout: 10_000 }, async () => {
  const server = new ModelServer();
  const parent = server.write({ base: 1 });
  const h = harness(server, { linear: "Dendrite 0.13.8" });
  server.nextFork = { parent, wins: false };
  await h.writer.enqueue({ kind: "put", key: "mine", value: 1 });
  server.sender = "@other:hs";
  server.write({ base: 1, theirs: 2 }, parent);
  const error = await h.writer.verify().then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof UnverifiableWriteError, String(error));
  assert.deepEqual([error.keys, error.server, error.code], [["mine"], "Dendrite 0.13.8", "UNVERIFIABLE_WRITE"]);
  assert.deepEqual(server.puts, [{ base: 1, mine: 1 }]);
  assert.deepEqual(server.content(), { base: 1, theirs: 2 });
});

test("a change by a writer whose event was built on ours stands", { timeout: 10_000 }, async () => {
  const server = new ModelServer();
  const h = harness(server);
  await h.writer.enqueue({ kind: "put", key: "mine", value: 1 });
  server.write({}); // replaces our event: its author saw `mine` and deleted it
  await h.writer.verify();
  assert.deepEqual(server.content(), {});
  assert.equal(server.puts.length, 1);
});

test("a fork that lacks our earlier op is not mistaken for someone's delete", { timeout: 10_000 }, async () => {
  const server = new ModelServer();
  const parent = server.write({});
  let synced = server.head();
  const h = harness(server, { synced: () => synced });
  server.nextFork = { parent, wins: false };
  await h.writer.enqueue({ kind: "put", key: "a", value: 1 }); // loses the fork
  const sibling = server.write({ s: 1 }, parent); // wins
  synced = { eventId: "$e1", content: { a: 1 } }; // we only saw ours so far
  // Our next write replaces the sibling; its content lacks `a` only because it forked.
  await h.writer.enqueue({ kind: "put", key: "b", value: 2 });
  assert.equal(server.events.get(server.current!)!.replaces, sibling);
  await h.writer.verify();
  assert.deepEqual(server.content(), { a: 1, b: 2, s: 1 });
});

test("a failed repair is reported, fails flush, and is tried again by the next one", { timeout: 10_000 }, async () => {
  const server = new ModelServer();
  const parent = server.write({});
  const h = harness(server);
  server.nextFork = { parent, wins: false };
  await h.writer.enqueue({ kind: "put", key: "a", value: 1 });
  server.write({ s: 1 }, parent);
  server.failNext = new Error("503 for the repair");
  await assert.rejects(h.writer.verify(), /503 for the repair/);
  assert.equal(h.errors.length, 1);
  assert.equal(h.writer.idle, false);
  await h.writer.verify();
  assert.deepEqual(server.content(), { s: 1, a: 1 });
  assert.equal(h.writer.idle, true);
});

test("values still being prepared keep call order: put(k, A) then put(k, B) ends with B", { timeout: 10_000 }, async () => {
  const h = harness();
  let releaseA!: (v: unknown) => void;
  const a = h.writer.enqueue({ kind: "put", key: "k", value: "A-pending" }, new Promise((r) => (releaseA = r)));
  const b = h.writer.enqueue({ kind: "put", key: "k", value: "B-pending" }, Promise.resolve({ encrypted_val: "$B" }));
  assert.equal(h.writer.lookup("k").value, "B-pending");
  await turns(3);
  releaseA({ encrypted_val: "$A" });
  await Promise.all([a, b]);
  await h.writer.verify();
  assert.deepEqual(h.server.content(), { k: { encrypted_val: "$B" } });
});

test("a write whose answer was lost is rebuilt on the server's state, not resent as it was", { timeout: 10_000 }, async () => {
  const h = harness();
  h.server.write({ a: 0 });
  h.server.loseNext = true;
  await h.writer.enqueue({ kind: "put", key: "a", value: 1 });
  assert.deepEqual(h.server.puts, [{ a: 1 }], "the retry found nothing left to change");
  assert.deepEqual(h.server.content(), { a: 1, other: "after ours" });
  await h.writer.verify();
  assert.deepEqual(h.server.content(), { a: 1, other: "after ours" });
});

test("a shared state key's write is built on the server's current event, not on a sync picture behind it", { timeout: 10_000 }, async () => {
  const server = new ModelServer();
  server.write({ mine: 0 });
  const stale = server.head();
  const h = harness(server, { synced: () => stale, shared: true });
  server.write({ mine: 0, theirs: "t" });
  await h.writer.enqueue({ kind: "put", key: "mine", value: 1 });
  assert.deepEqual(server.puts, [{ mine: 1, theirs: "t" }]);
});

test("a write whose answer was lost, then changed on purpose by another writer, is not written again", { timeout: 10_000 }, async () => {
  const h = harness();
  h.server.write({ a: 0 });
  h.server.loseNext = true;
  // The other writer saw our `a: 1` land and set it to 2.
  const put = h.server.write.bind(h.server);
  h.server.write = (c, r, m) => put(h.server.sender === "@other:hs" ? { ...c, a: 2 } : c, r, m);
  await h.writer.enqueue({ kind: "put", key: "a", value: 1 });
  await h.writer.verify();
  assert.deepEqual(h.server.puts, [{ a: 1 }]);
  assert.deepEqual(h.server.content(), { a: 2, other: "after ours" });
});

test("settle window: when our PUT was slow, flush waits for a sibling stored as slowly, and repairs what it undid", { timeout: 10_000 }, async () => {
  // Seen on the real Synapse under load: PUTs took 2 to 4 s, and a sibling created before ours was
  // stored landed 1.6 s after ours was acknowledged, past the 1 s settleMs, then won.
  const time = new VirtualTime();
  const server = new ModelServer();
  const base = server.write({});
  const h = harness(server, { time, settleMs: 1000, putMs: 3000 });
  await h.writer.enqueue({ kind: "put", key: "a", value: 1 });
  const acknowledged = time.t;
  server.sender = "@other:hs";
  time.at(acknowledged + 1500, () => server.write({ other: 1 }, base, true));
  await h.writer.verify();
  await time.sleep(60_000); // whatever was still due has landed
  assert.deepEqual(server.content(), { other: 1, a: 1 });
});
