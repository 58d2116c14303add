import { test } from "node:test";
import assert from "node:assert/strict";
import PQueue from "p-queue";
import { StateKeyWriter, type StateHead, type WriterContext } from "../../src/db/writer.js";

/** Let deferred batches and settled promises run. */
async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

/** A writer over a fake homeserver: PUTs are recorded, `synced` is what the test says sync showed. */
function harness(options: { failWith?: unknown } = {}) {
  const puts: Array<Record<string, unknown>> = [];
  const fetched: string[] = [];
  let synced: StateHead | undefined;
  let release: (() => void) | undefined;
  let hold = false;
  const ctx: WriterContext = {
    queue: new PQueue({ concurrency: 4 }),
    userId: "@me:hs",
    synced: () => synced,
    putState: async (_s, content) => {
      puts.push(content);
      if (hold) await new Promise<void>((r) => (release = r));
      if (options.failWith) throw options.failWith;
      return `$e${puts.length}`;
    },
    fetchUnsigned: async (id) => {
      fetched.push(id);
      return { replaces_state: undefined };
    },
    now: () => 0,
    defer: (fn) => setImmediate(fn),
  };
  const writer = new StateKeyWriter("", ctx);
  return {
    writer,
    puts,
    fetched,
    setSynced: (s: StateHead | undefined) => (synced = s),
    holdPuts: () => (hold = true),
    releasePut: () => {
      hold = false;
      release?.();
    },
  };
}

test("a burst in one tick becomes one PUT; puts during the flight are merged into the next", { timeout: 30_000 }, async () => {
  const h = harness();
  h.holdPuts();
  const first = Array.from({ length: 100 }, (_, i) => h.writer.enqueue({ kind: "put", key: `k${i % 10}`, value: i }));
  await new Promise((r) => setImmediate(r));
  await turns(3);
  assert.equal(h.puts.length, 1);
  const second = Array.from({ length: 50 }, (_, i) => h.writer.enqueue({ kind: "put", key: `k${i % 10}`, value: 1000 + i }));
  assert.equal(h.writer.lookup("k3").value, 1043, "reads see queued writes at once");
  h.releasePut();
  await Promise.all([...first, ...second]);
  assert.equal(h.puts.length, 2);
  assert.equal(h.puts[1]!.k3, 1043);
  assert.equal(Object.keys(h.puts[1]!).length, 10);
});

test("a put that changes nothing sends nothing", { timeout: 30_000 }, async () => {
  const h = harness();
  h.setSynced({ eventId: "$s", content: { a: 1 }, sender: "@other:hs" });
  await h.writer.enqueue({ kind: "put", key: "a", value: 1 });
  assert.equal(h.puts.length, 0);
});

test("a failed write rejects its ops and reads fall back to the synced state", { timeout: 30_000 }, async () => {
  const h = harness({ failWith: new Error("403") });
  h.setSynced({ eventId: "$s", content: { a: 1 }, sender: "@other:hs" });
  await assert.rejects(h.writer.enqueue({ kind: "put", key: "a", value: 2 }), /403/);
  assert.deepEqual(h.writer.lookup("a"), { found: true, value: 1 });
  assert.equal(h.writer.idle, true);
});

test("our write that replaced an event we had not seen puts the other writer's change back", { timeout: 30_000 }, async () => {
  const h = harness();
  h.setSynced({ eventId: "$base", content: { mine: 0 }, sender: "@me:hs" });
  await h.writer.enqueue({ kind: "put", key: "mine", value: 1 });
  assert.deepEqual(h.puts[0], { mine: 1 });
  // Sync: someone wrote $theirs (adding `theirs`) before our $e1 landed; $e1 replaced it.
  h.setSynced({ eventId: "$e1", content: { mine: 1 }, sender: "@me:hs" });
  h.writer.onSync([{ event_id: "$e1", sender: "@me:hs", content: { mine: 1 }, unsigned: { replaces_state: "$theirs", prev_content: { mine: 0, theirs: "t" } } }]);
  await turns(3);
  assert.deepEqual(h.puts[1], { mine: 1, theirs: "t" });
  assert.equal(h.writer.idle, false, "the repair waits for sync to confirm it");
});

test("our change dropped by a writer who never saw it is applied again", { timeout: 30_000 }, async () => {
  const h = harness();
  await h.writer.enqueue({ kind: "put", key: "mine", value: 1 });
  h.setSynced({ eventId: "$e1", content: { mine: 1 }, sender: "@me:hs" });
  h.writer.onSync([{ event_id: "$e1", sender: "@me:hs", content: { mine: 1 }, unsigned: {} }]);
  assert.equal(h.writer.idle, true);
  // A concurrent event forked from before ours wins state resolution, without our key.
  h.setSynced({ eventId: "$x", content: { other: 2 }, sender: "@other:hs", unsigned: { prev_content: {} } });
  h.writer.onSync([{ event_id: "$x", sender: "@other:hs", content: { other: 2 }, unsigned: {} }]);
  await turns(3);
  assert.deepEqual(h.puts[1], { other: 2, mine: 1 });
});

test("a deliberate change by a writer who saw our value is kept", { timeout: 30_000 }, async () => {
  const h = harness();
  await h.writer.enqueue({ kind: "put", key: "mine", value: 1 });
  h.setSynced({ eventId: "$e1", content: { mine: 1 }, sender: "@me:hs" });
  h.writer.onSync([{ event_id: "$e1", sender: "@me:hs", content: { mine: 1 }, unsigned: {} }]);
  h.setSynced({ eventId: "$x", content: {}, sender: "@other:hs", unsigned: { replaces_state: "$e1", prev_content: { mine: 1 } } });
  h.writer.onSync([{ event_id: "$x", sender: "@other:hs", content: {}, unsigned: { replaces_state: "$e1", prev_content: { mine: 1 } } }]);
  await turns(3);
  assert.equal(h.puts.length, 1);
});

test("a write the timeline never showed is confirmed by fetching the event after two syncs", { timeout: 30_000 }, async () => {
  const h = harness();
  await h.writer.enqueue({ kind: "put", key: "a", value: 1 });
  assert.equal(h.writer.idle, false);
  h.writer.onSync([]);
  assert.deepEqual(h.fetched, []);
  h.writer.onSync([]);
  assert.deepEqual(h.fetched, ["$e1"]);
  await h.writer.whenIdle();
  assert.equal(h.writer.idle, true);
});
