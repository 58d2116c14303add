/**
 * Repairs as what they are (docs/HISTORY.md "Repairs"), on event chains built here: a stale write
 * that dropped another writer's key and the repair that put it back, in the history and the audit;
 * a stale revert left unrepaired (flagged); a deliberate change back to an old value (not stale); a
 * later write of another value (no repair); marks held across `limit` and `before`; the stale rule
 * shared with the writer's Lineage.staleKeys.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { auditChain } from "../../src/db/audit.js";
import { keyHistory, type HistorySource, type KeyVersion } from "../../src/db/history.js";
import { Lineage, type LineageEvent } from "../../src/db/lineage.js";

/** A chain oldest first: each event replaces the one before it. */
function chain(...steps: Array<[sender: string, content: Record<string, unknown>]>): LineageEvent[] {
  return steps.map(([sender, content], i) => ({ eventId: `$e${i + 1}`, replaces: i === 0 ? undefined : `$e${i}`, content, ts: 1000 + i, sender }));
}

function source(events: LineageEvent[]): HistorySource & { fetched: string[] } {
  const byId = new Map(events.map((e) => [e.eventId, e]));
  const fetched: string[] = [];
  return {
    fetched,
    current: async () => events.at(-1),
    event: async (id) => (fetched.push(id), byId.get(id)),
    reveal: async (stored) => stored,
  };
}

async function history(events: LineageEvent[], key: string, options = {}): Promise<KeyVersion[]> {
  const out: KeyVersion[] = [];
  for await (const v of keyHistory(key, source(events), options)) out.push(v);
  return out;
}

const marks = (vs: KeyVersion[]) => vs.map(({ eventId, deleted, value, stale, repairedBy, repairOf }) => [eventId, deleted ? "deleted" : value, stale ?? false, repairedBy ?? null, repairOf ?? null]);

// alice writes a; bob adds b; alice, her picture still at $e1, writes a again and drops b ($e3); her
// clobber rule puts b back ($e4); carol writes c in between in the second chain.
const clobbered = chain(["@alice", { a: 1 }], ["@bob", { a: 1, b: 2 }], ["@alice", { a: 9 }], ["@alice", { a: 9, b: 2 }]);

test("a stale write that dropped a key, and the repair that put it back: both marked in the history", { timeout: 10_000 }, async () => {
  assert.deepEqual(marks(await history(clobbered, "b")), [
    ["$e4", 2, false, null, "$e3"],
    ["$e3", "deleted", true, "$e4", null],
    ["$e2", 2, false, null, null],
  ]);
  // For the key alice meant to write, $e3 is an ordinary version.
  assert.deepEqual(marks(await history(clobbered, "a")), [
    ["$e3", 9, false, null, null],
    ["$e1", 1, false, null, null],
  ]);
  // Events between the drop and the repair that leave the key alone change nothing.
  const between = chain(["@alice", { a: 1 }], ["@bob", { a: 1, b: 2 }], ["@alice", { a: 9 }], ["@carol", { a: 9, c: 1 }], ["@alice", { a: 9, c: 1, b: 2 }]);
  assert.deepEqual(marks(await history(between, "b")), [
    ["$e5", 2, false, null, "$e3"],
    ["$e3", "deleted", true, "$e5", null],
    ["$e2", 2, false, null, null],
  ]);
});

test("marks survive paging: limit and before", { timeout: 10_000 }, async () => {
  assert.deepEqual(marks(await history(clobbered, "b", { limit: 1 })), [["$e4", 2, false, null, "$e3"]]);
  assert.deepEqual(marks(await history(clobbered, "b", { before: "$e4" })), [
    ["$e3", "deleted", true, "$e4", null],
    ["$e2", 2, false, null, null],
  ]);
  assert.deepEqual(marks(await history(clobbered, "b", { before: 1003 })), [
    ["$e3", "deleted", true, "$e4", null],
    ["$e2", 2, false, null, null],
  ]);
});

test("not repairs: a deliberate change back to an old value, another value written after a drop, an unrepaired stale revert", { timeout: 10_000 }, async () => {
  // One key changed back: no older event is a closer picture, so it is a decision, not a lost update.
  const back = chain(["@alice", { b: 1 }], ["@bob", { b: 2 }], ["@alice", { b: 1 }]);
  assert.deepEqual(marks(await history(back, "b")), [
    ["$e3", 1, false, null, null],
    ["$e2", 2, false, null, null],
    ["$e1", 1, false, null, null],
  ]);
  // After the drop, someone writes another value: that is a put, and the drop stays unrepaired.
  const other = chain(["@alice", { a: 1 }], ["@bob", { a: 1, b: 2 }], ["@alice", { a: 9 }], ["@bob", { a: 9, b: 7 }]);
  assert.deepEqual(marks(await history(other, "b")), [
    ["$e4", 7, false, null, null],
    ["$e3", "deleted", true, null, null],
    ["$e2", 2, false, null, null],
  ]);
  // A stale writer sets b back to its old value, and nobody repairs it.
  const revert = chain(["@alice", { a: 1, b: 1 }], ["@bob", { a: 1, b: 2 }], ["@alice", { a: 9, b: 1 }]);
  assert.deepEqual(marks(await history(revert, "b")), [
    ["$e3", 1, true, null, null],
    ["$e2", 2, false, null, null],
    ["$e1", 1, false, null, null],
  ]);
});

test("the audit tells a repaired drop (not flagged) from an unrepaired one (flagged)", { timeout: 10_000 }, () => {
  const brief = (events: LineageEvent[]) => auditChain(events).map((r) => [r.eventId, r.kind, r.key, r.flags, r.repairedBy ?? null, r.repairOf ?? null]);
  assert.deepEqual(brief(clobbered), [
    ["$e1", "put", "a", [], null, null],
    ["$e2", "put", "b", [], null, null],
    ["$e3", "put", "a", [], null, null],
    ["$e3", "delete", "b", [], "$e4", null],
    ["$e4", "put", "b", [], null, "$e3"],
  ]);
  const unrepaired = chain(["@alice", { a: 1 }], ["@bob", { a: 1, b: 2 }], ["@alice", { a: 9 }], ["@bob", { a: 9, b: 7 }]);
  assert.deepEqual(brief(unrepaired)[3], ["$e3", "delete", "b", ["dropped a key written by @bob"], null, null]);
  const revert = chain(["@alice", { a: 1, b: 1 }], ["@bob", { a: 1, b: 2 }], ["@alice", { a: 9, b: 1 }]);
  assert.deepEqual(brief(revert).slice(3), [
    ["$e3", "put", "a", [], null, null],
    ["$e3", "put", "b", ["set back a key written by @bob to an older value"], null, null],
  ]);
  // The allow-list flag stays on a repair's drop: only the drop itself is put right.
  const allowed = auditChain(clobbered, new Set(["@bob"])).find((r) => r.eventId === "$e3" && r.key === "b")!;
  assert.deepEqual([allowed.flags, allowed.repairedBy], [["writer not in the allow-list"], "$e4"]);
});

test("a long chain: the walk holds a bounded window, and the stale rule is the writer's own", { timeout: 30_000 }, async () => {
  // 40 unrelated writes below the drop and the repair: the same marks, and the rule agrees with Lineage.staleKeys.
  const steps: Array<[string, Record<string, unknown>]> = [];
  for (let i = 0; i < 40; i++) steps.push(["@carol", { n: i }]);
  steps.push(["@bob", { n: 39, b: 2 }], ["@alice", { n: 38, a: 1 }], ["@alice", { n: 38, a: 1, b: 2 }]);
  const events = chain(...steps);
  const got = marks(await history(events, "b"));
  assert.deepEqual(got, [
    ["$e43", 2, false, null, "$e42"],
    ["$e42", "deleted", true, "$e43", null],
    ["$e41", 2, false, null, null],
  ]);
  const byId = new Map(events.map((e) => [e.eventId, e]));
  const lineage = new Lineage(async (id) => byId.get(id));
  assert.deepEqual([...(await lineage.staleKeys(byId.get("$e42")!))].sort(), ["b", "n"]);
  // history with limit 1 reads only as far as the next older change of the key, plus the window under it.
  const s = source(events);
  for await (const _ of keyHistory("b", s, { limit: 1 })) break;
  assert.ok(s.fetched.length <= 12, `fetched ${s.fetched.join(",")}`);
});
