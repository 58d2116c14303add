import { test } from "node:test";
import assert from "node:assert/strict";
import { droppedKeys, opFor, reflects, stillOurs } from "../../src/db/repair.js";
import { Lineage, type LineageEvent } from "../../src/db/lineage.js";
import { planRepairs, type OurWrite } from "../../src/db/repair-plan.js";


test("reflects: a put shows its value, a delete shows the key absent", { timeout: 10_000 }, () => {
  assert.equal(reflects({ a: { x: 1 } }, { kind: "put", key: "a", value: { x: 1 } }), true);
  assert.equal(reflects({ a: { x: 2 } }, { kind: "put", key: "a", value: { x: 1 } }), false);
  assert.equal(reflects({}, { kind: "delete", key: "a" }), true);
  assert.equal(reflects({ a: null }, { kind: "delete", key: "a" }), false);
});

test("droppedKeys: differences from the replaced content, outside the keys our write set", { timeout: 10_000 }, () => {
  const ours = { shared: 1, gone: "x", mine: "ours" };
  const replaced = { shared: 1, added: "theirs", mine: "their-view" };
  assert.deepEqual(droppedKeys(ours, replaced, new Set(["mine"])).sort(), ["added", "gone"]);
  assert.deepEqual(opFor(replaced, "added"), { kind: "put", key: "added", value: "theirs" });
  assert.deepEqual(opFor(replaced, "gone"), { kind: "delete", key: "gone" });
});

test("stillOurs: a key changed again since our write (or deleted) is not ours to restore over", { timeout: 10_000 }, () => {
  assert.equal(stillOurs({ a: 1 }, { a: 1 }, "a"), true);
  assert.equal(stillOurs({}, {}, "a"), true);
  assert.equal(stillOurs({ a: 2 }, { a: 1 }, "a"), false);
  assert.equal(stillOurs({}, { a: 1 }, "a"), false);
  assert.equal(stillOurs({ a: null }, {}, "a"), false);
});

test("lineage: built on an event, a fork of it, and unknown events fetched once", { timeout: 10_000 }, async () => {
  const events: LineageEvent[] = [
    { eventId: "$p", replaces: undefined, content: {}, ts: 1 },
    { eventId: "$ours", replaces: "$p", content: {}, ts: 2 },
    { eventId: "$fork", replaces: "$p", content: {}, ts: 2 },
    { eventId: "$child", replaces: "$ours", content: {}, ts: 3 },
    { eventId: "$grandchild", replaces: "$child", content: {}, ts: 4 },
    { eventId: "$onFork", replaces: "$fork", content: {}, ts: 5 },
  ];
  const fetched: string[] = [];
  const lineage = new Lineage(async (id) => {
    fetched.push(id);
    return events.find((e) => e.eventId === id);
  });
  const ours = events[1]!;
  assert.equal(await lineage.descends("$grandchild", ours), true);
  assert.equal(await lineage.descends("$ours", ours), true);
  assert.equal(await lineage.descends("$onFork", ours), false);
  assert.equal(await lineage.descends("$missing", ours), false);
  assert.equal(await lineage.descends("$grandchild", ours), true);
  assert.deepEqual(fetched, ["$grandchild", "$child", "$onFork", "$fork", "$p", "$missing"]);
});

test("clobber rule: a fork that shares no history with our base is restored whole (two first writes both replaced nothing)", { timeout: 10_000 }, async () => {
  // Seen on the real Synapse (durability-exit-after-flush, three processes): a2's and b's first
  // writes both replaced nothing; a2 built its second write on its first, b built its second on its
  // own first, and Synapse placed b's after a2's. b dropped all of a2's keys, including those a2's
  // second write had only carried over from a2's first: they too are a2's acknowledged ops.
  const events: LineageEvent[] = [
    { eventId: "$a2first", replaces: undefined, content: { x0: 0 }, ts: 1, sender: "@a" },
    { eventId: "$bfirst", replaces: undefined, content: { b0: 0 }, ts: 2, sender: "@b" },
    { eventId: "$a2second", replaces: "$a2first", content: { x0: 0, x1: 1 }, ts: 3, sender: "@a" },
    { eventId: "$bsecond", replaces: "$a2second", content: { b0: 0, b1: 1 }, ts: 4, sender: "@b" },
  ];
  const lineage = new Lineage(async (id) => events.find((e) => e.eventId === id));
  const current = events[3]!;
  const first: OurWrite = { eventId: "$bfirst", base: { eventId: undefined, content: {} }, ops: [{ kind: "put", key: "b0", value: 0 }], content: { b0: 0 }, shown: true, holder: false };
  const second: OurWrite = { eventId: "$bsecond", base: { eventId: "$bfirst", content: { b0: 0 } }, ops: [{ kind: "put", key: "b1", value: 1 }], content: { b0: 0, b1: 1 }, shown: true, holder: false };
  const unverified = new Map([
    ["b0", { op: first.ops[0]!, write: first }],
    ["b1", { op: second.ops[0]!, write: second }],
  ]);
  const repairs = await planRepairs({ lineage, userId: "@b", current, ours: [first, second], unverified, pendingKeys: new Set() });
  assert.deepEqual(
    repairs.sort((p, q) => p.op.key.localeCompare(q.op.key)),
    [
      { op: { kind: "put", key: "x0", value: 0 }, expect: undefined },
      { op: { kind: "put", key: "x1", value: 1 }, expect: undefined },
    ],
  );
});

test("clobber rule: what a fork merely lacks from the history our base shares with it is not restored", { timeout: 10_000 }, async () => {
  // The fork left `k` as the common ancestor had it (absent); our base holds another writer's `k`.
  const events: LineageEvent[] = [
    { eventId: "$p", replaces: undefined, content: { a: 1 }, ts: 1 },
    { eventId: "$base", replaces: "$p", content: { a: 1, k: "acked" }, ts: 2 },
    { eventId: "$fork", replaces: "$p", content: { a: 1, f: "theirs" }, ts: 2 },
    { eventId: "$ours", replaces: "$fork", content: { a: 1, k: "acked", mine: 1 }, ts: 3 },
  ];
  const lineage = new Lineage(async (id) => events.find((e) => e.eventId === id));
  const write: OurWrite = { eventId: "$ours", base: { eventId: "$base", content: { a: 1, k: "acked" } }, ops: [{ kind: "put", key: "mine", value: 1 }], content: events[3]!.content, shown: true, holder: false };
  const repairs = await planRepairs({ lineage, userId: "@us", current: events[3], ours: [write], unverified: new Map([["mine", { op: write.ops[0]!, write }]]), pendingKeys: new Set() });
  assert.deepEqual(repairs, [{ op: { kind: "put", key: "f", value: "theirs" }, expect: undefined }]);
});

test("survival rule: our op lost a fork to a repair of the value the caller saw and replaced: applied again", { timeout: 10_000 }, async () => {
  // Simulation seed 602: the caller saw k0 = P1 (a value being put back), deleted it; the write that
  // put P1 back forked with ours and won. P1 is no concurrent change: our delete had replaced it.
  const events: LineageEvent[] = [
    { eventId: "$base", replaces: undefined, content: { k0: "init" }, ts: 1 },
    { eventId: "$ours", replaces: "$base", content: {}, ts: 2 },
    { eventId: "$putBack", replaces: "$base", content: { k0: "P1" }, ts: 2 },
  ];
  const lineage = new Lineage(async (id) => events.find((e) => e.eventId === id));
  const write: OurWrite = { eventId: "$ours", base: { eventId: "$base", content: { k0: "init" } }, ops: [{ kind: "delete", key: "k0" }], content: {}, shown: true, holder: false };
  const unverified = new Map([["k0", { op: write.ops[0]!, write }]]);
  const plan = (w: OurWrite) => planRepairs({ lineage, userId: "@us", current: events[2], ours: [w], unverified: new Map([["k0", { op: w.ops[0]!, write: w }]]), pendingKeys: new Set() });
  assert.deepEqual(await planRepairs({ lineage, userId: "@us", current: events[2], ours: [write], unverified, pendingKeys: new Set() }), []);
  assert.deepEqual(await plan({ ...write, saw: new Map([["k0", "P1"]]) }), [{ op: { kind: "delete", key: "k0" }, expect: "P1" }]);
});
