/**
 * Late-fork merge (src/db/fork-merge.ts): the plan over constructed lineages, then a room memory
 * over a tiny homeserver model that sees a fork resolved after its writes were verified and puts
 * the losing side's changes back.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import PQueue from "p-queue";
import { EVENT_TYPE } from "../../src/db/format.js";
import { lostTips, planForkMerge } from "../../src/db/fork-merge.js";
import { Lineage, type LineageEvent } from "../../src/db/lineage.js";
import { RoomMemory } from "../../src/db/room-memory.js";
import { RoomState } from "../../src/state/room-state.js";
import type { StateEvent } from "../../src/state/types.js";

const byKey = <T extends { op: { key: string } }>(rs: T[]) => [...rs].sort((a, b) => a.op.key.localeCompare(b.op.key));
const lineageOf = (events: LineageEvent[]) => new Lineage(async (id) => events.find((e) => e.eventId === id));

test("merge plan: the losing side's own changes are restored; a key both sides changed is left to the winner", { timeout: 10_000 }, async () => {
  const events: LineageEvent[] = [
    { eventId: "$p", replaces: undefined, content: { a: 1, s: 0, gone: 1, k1: 1, k2: 1, k3: 1 }, ts: 1 },
    { eventId: "$lost", replaces: "$p", content: { a: 2, s: "lost", l: 1, k1: 1, k2: 1, k3: 1 }, ts: 2 },
    { eventId: "$won", replaces: "$p", content: { a: 1, s: "won", c: 1, gone: 1, k1: 1, k2: 1, k3: 1 }, ts: 2 },
  ];
  const lineage = lineageOf(events);
  const repairs = await planForkMerge(lineage, events[1]!, events[2]!);
  assert.deepEqual(byKey(repairs), [
    { op: { kind: "put", key: "a", value: 2 }, expect: 1 },
    { op: { kind: "delete", key: "gone" }, expect: 1 },
    { op: { kind: "put", key: "l", value: 1 }, expect: undefined },
  ]);
  // Built on one another: nothing lost.
  assert.deepEqual(await planForkMerge(lineage, events[0]!, events[2]!), []);
});

test("merge plan: what the losing writer only set back from a stale picture is not restored", { timeout: 10_000 }, async () => {
  const events: LineageEvent[] = [
    { eventId: "$p0", replaces: undefined, content: { x: 1, z: 1 }, ts: 1 },
    { eventId: "$p1", replaces: "$p0", content: { x: 2, z: 2 }, ts: 2 },
    // Its writer's picture was $p0: x and z went back, `l` is its own op.
    { eventId: "$lost", replaces: "$p1", content: { x: 1, z: 1, l: 1 }, ts: 3 },
    { eventId: "$won", replaces: "$p1", content: { x: 2, z: 2, c: 1 }, ts: 3 },
  ];
  const repairs = await planForkMerge(lineageOf(events), events[2]!, events[3]!);
  assert.deepEqual(repairs, [{ op: { kind: "put", key: "l", value: 1 }, expect: undefined }]);
});

test("merge plan: two sides with no common ancestor merge from empty content", { timeout: 10_000 }, async () => {
  const events: LineageEvent[] = [
    { eventId: "$lost", replaces: undefined, content: { l: 1, s: 1 }, ts: 1 },
    { eventId: "$won", replaces: undefined, content: { c: 1, s: 2 }, ts: 1 },
  ];
  const repairs = await planForkMerge(lineageOf(events), events[0]!, events[1]!);
  assert.deepEqual(repairs, [{ op: { kind: "put", key: "l", value: 1 }, expect: undefined }]);
});

test("lost tips: ancestors and descendants of the current event are not lost; of a losing chain only its tip counts", { timeout: 10_000 }, async () => {
  const events: LineageEvent[] = [
    { eventId: "$p", replaces: undefined, content: {}, ts: 1 },
    { eventId: "$l1", replaces: "$p", content: { l: 1 }, ts: 2 },
    { eventId: "$l2", replaces: "$l1", content: { l: 2 }, ts: 3 },
    { eventId: "$won", replaces: "$p", content: { c: 1 }, ts: 3 },
    { eventId: "$next", replaces: "$won", content: { c: 2 }, ts: 4 },
  ];
  const tips = await lostTips(lineageOf(events), [events[0]!, events[1]!, events[2]!, events[4]!], events[3]!);
  assert.deepEqual(
    tips.map((e) => e.eventId),
    ["$l2"],
  );
});

/** A homeserver model for one shared state key, and room memories reading it through sync. */
class Model {
  readonly events = new Map<string, LineageEvent>();
  current: string | undefined;
  puts: Array<{ by: string; content: Record<string, unknown> }> = [];
  /** Senders refused with 403. */
  readonly forbidden = new Set<string>();
  private n = 0;
  private ts = 1000;

  write(content: Record<string, unknown>, replaces = this.current, makeCurrent = true, sender = "@w:hs"): LineageEvent {
    const e = { eventId: `$e${++this.n}`, replaces, content, ts: this.ts++, sender };
    this.events.set(e.eventId, e);
    if (makeCurrent) this.current = e.eventId;
    return e;
  }

  raw(e: LineageEvent): StateEvent {
    return { type: EVENT_TYPE, state_key: "", content: e.content, event_id: e.eventId, sender: e.sender ?? "@w:hs", origin_server_ts: e.ts, unsigned: e.replaces ? { replaces_state: e.replaces } : {} };
  }

  /** A reader's room memory, fed by `sync(timeline)` calls. */
  reader(userId: string) {
    let state = new RoomState("!r:hs");
    const errors: unknown[] = [];
    const room = new RoomMemory("!r:hs", {
      queue: new PQueue({ concurrency: 4 }),
      singleStateKey: true,
      state: () => state,
      putState: async (_s, content) => {
        if (this.forbidden.has(userId)) throw Object.assign(new Error("forbidden"), { errcode: "M_FORBIDDEN", status: 403 });
        this.puts.push({ by: userId, content });
        return this.write(content, this.current, true, userId).eventId;
      },
      currentEvent: async () => (this.current ? this.events.get(this.current) : undefined),
      allState: async () => [],
      fetchEvent: async (id) => this.events.get(id),
      redact: async () => undefined,
      userId,
      settleMs: 0,
      mergeForks: true,
      writeTimeoutMs: 60_000,
      retryDelay: () => undefined,
      now: () => 0,
      sleep: async () => undefined,
      defer: (fn) => setImmediate(fn),
      onError: (e) => errors.push(e),
    });
    const sync = async (timeline: LineageEvent[]) => {
      state = new RoomState("!r:hs", this.current ? [this.raw(this.events.get(this.current)!)] : []);
      room.onSync(timeline.map((e) => this.raw(e)));
      for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
      await room.verify();
    };
    return { room, sync, errors };
  }

  content(): Record<string, unknown> {
    return this.current ? this.events.get(this.current)!.content : {};
  }
}

test("a reader that held the losing side of a fork resolved late merges it onto the winner; a second reader sends nothing", { timeout: 10_000 }, async () => {
  const m = new Model();
  const p = m.write({ base: 1, s: 0 });
  const r1 = m.reader("@r1:hs");
  const r2 = m.reader("@r2:hs");
  await r1.sync([p]);
  await r2.sync([p]);
  // An exited writer's write, verified and synced by both readers.
  const lost = m.write({ base: 1, s: 1, w: 1 });
  await r1.sync([lost]);
  await r2.sync([lost]);
  // A sibling off the same parent is stored late and wins state resolution.
  const won = m.write({ base: 1, s: 2, c: 1 }, p.eventId);
  await r1.sync([won]);
  assert.deepEqual(m.content(), { base: 1, s: 2, c: 1, w: 1 });
  const merged = m.current;
  await r2.sync([won]);
  assert.equal(m.current, merged);
  assert.deepEqual(
    m.puts.map((x) => x.by),
    ["@r1:hs"],
  );
  assert.deepEqual([...r1.errors, ...r2.errors], []);
});

test("a losing sibling seen only in the timeline, never held, is left to its writer's own check", { timeout: 10_000 }, async () => {
  const m = new Model();
  const p = m.write({ base: 1 });
  const r = m.reader("@r:hs");
  await r.sync([p]);
  m.write({ base: 1, w: 1 });
  m.write({ base: 1, c: 1 }, p.eventId);
  await r.sync([m.events.get("$e2")!, m.events.get("$e3")!]);
  assert.deepEqual(m.content(), { base: 1, c: 1 });
  assert.deepEqual(m.puts, []);
});

test("a linear history sends nothing; a merge the server refuses is reported, not thrown", { timeout: 10_000 }, async () => {
  const m = new Model();
  const p = m.write({ base: 1 });
  const r = m.reader("@r:hs");
  await r.sync([p]);
  const next = m.write({ base: 2 });
  await r.sync([next]);
  assert.deepEqual(m.puts, []);
  const lost = m.write({ base: 2, w: 1 });
  await r.sync([lost]);
  m.write({ base: 2, c: 1 }, next.eventId);
  m.forbidden.add("@r:hs");
  await r.sync([m.events.get(m.current!)!]);
  assert.deepEqual(m.content(), { base: 2, c: 1 });
  assert.deepEqual(
    r.errors.map((e) => (e as { errcode?: string }).errcode),
    ["M_FORBIDDEN"],
  );
});
