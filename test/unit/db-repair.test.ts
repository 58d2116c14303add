import { test } from "node:test";
import assert from "node:assert/strict";
import { droppedKeys, opFor, reflects, stillOurs } from "../../src/db/repair.js";
import { Lineage, type LineageEvent } from "../../src/db/lineage.js";
import { planRepairs, type OurWrite } from "../../src/db/repair-plan.js";
import type { Op } from "../../src/db/format.js";


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
  assert.deepEqual(await plan({ ...write, saw: new Map([["k0", "P1"]]) }), [{ op: { kind: "delete", key: "k0" }, expect: "P1", own: true, saw: { value: "P1" } }]);
});

/** A lineage over fixed events, and one write of ours carrying `ops`. */
function fixture(events: LineageEvent[]) {
  const lineage = new Lineage(async (id) => events.find((e) => e.eventId === id));
  const byId = (id: string) => events.find((e) => e.eventId === id)!;
  const write = (eventId: string, base: string, ops: Op[], extra: Partial<OurWrite> = {}): OurWrite => ({ eventId, base: { eventId: base, content: byId(base).content }, ops, content: byId(eventId).content, shown: true, holder: false, ...extra });
  const plan = (current: string, ours: OurWrite[]) => {
    const unverified = new Map<string, { op: Op; write: OurWrite }>();
    for (const w of ours) for (const op of w.ops) unverified.set(op.key, { op, write: w });
    return planRepairs({ lineage, userId: "@us", current: byId(current), ours, unverified, pendingKeys: new Set() });
  };
  return { write, plan };
}

test("copies: our account's event with our write's content, stamped after that write's answer came, is another process's write, not a copy", { timeout: 10_000 }, async () => {
  // Simulation seeds 30897 and 33969: a second process of the account wrote the same content on
  // purpose (dropping x); taken for a resend of our write, its "dropped" x was put back.
  const { write, plan } = fixture([
    { eventId: "$base", replaces: undefined, content: { k: "v0" }, ts: 1, sender: "@b" },
    { eventId: "$ours", replaces: "$base", content: { k: "v0", mine: 1 }, ts: 10, sender: "@us" },
    { eventId: "$other", replaces: "$ours", content: { k: "v0", mine: 1, x: 2 }, ts: 20, sender: "@b" },
    { eventId: "$same", replaces: "$other", content: { k: "v0", mine: 1 }, ts: 100, sender: "@us" },
  ]);
  const ours = write("$ours", "$base", [{ kind: "put", key: "mine", value: 1 }], { answerMs: 5 });
  assert.deepEqual(await plan("$same", [ours]), []);
  // Stamped within the answer window, it is a resend of our old body: what it dropped is put back.
  assert.deepEqual(await plan("$same", [{ ...ours, answerMs: 200 }]), [{ op: { kind: "put", key: "x", value: 2 }, expect: undefined }]);
});

test("survival rule: our delete changed nothing (a stale write had dropped the value we saw); that value put back over it is deleted again", { timeout: 10_000 }, async () => {
  // Simulation seed 39936: the stale writer's own repair put back the value our delete had replaced.
  const { write, plan } = fixture([
    { eventId: "$a", replaces: undefined, content: { k1: "P2" }, ts: 1 },
    { eventId: "$stale", replaces: "$a", content: {}, ts: 2 },
    { eventId: "$ours", replaces: "$stale", content: { k0: 1 }, ts: 3, sender: "@us" },
    { eventId: "$restore", replaces: "$ours", content: { k0: 1, k1: "P2" }, ts: 4 },
  ]);
  const ours = write("$ours", "$a", [{ kind: "delete", key: "k1" }, { kind: "put", key: "k0", value: 1 }], { saw: new Map<string, unknown>([["k1", "P2"], ["k0", undefined]]) });
  assert.deepEqual(await plan("$restore", [ours]), [{ op: { kind: "delete", key: "k1" }, expect: "P2", own: true, saw: { value: "P2" } }]);
});

test("survival rule: a lost repair is not applied again over a key the winning side changed since the fork", { timeout: 10_000 }, async () => {
  // Simulation seed 38429: the winning side set the key and deleted it again, back to our base's value.
  const { write, plan } = fixture([
    { eventId: "$b", replaces: undefined, content: {}, ts: 1 },
    { eventId: "$r", replaces: "$b", content: { k: "X" }, ts: 2, sender: "@us" },
    { eventId: "$w1", replaces: "$b", content: { k: "Y" }, ts: 3 },
    { eventId: "$w2", replaces: "$w1", content: {}, ts: 4 },
  ]);
  const repair = write("$r", "$b", [{ kind: "put", key: "k", value: "X" }], { expects: new Map([["k", undefined]]) });
  assert.deepEqual(await plan("$w2", [repair]), []);
});

test("survival rule: our op lost with a fork whose side the winner never changed is applied again, even over an older value than our base's", { timeout: 10_000 }, async () => {
  // Simulation seed 30892: our base was on the losing side too; the winner still holds the fork point's value.
  const { write, plan } = fixture([
    { eventId: "$f", replaces: undefined, content: { k: "A" }, ts: 1 },
    { eventId: "$o1", replaces: "$f", content: { k: "B" }, ts: 2 },
    { eventId: "$o2", replaces: "$o1", content: { k: "C" }, ts: 3, sender: "@us" },
    { eventId: "$w1", replaces: "$f", content: { k: "A", z: 1 }, ts: 4 },
  ]);
  const ours = write("$o2", "$o1", [{ kind: "put", key: "k", value: "C" }], { saw: new Map([["k", "B"]]) });
  assert.deepEqual(await plan("$w1", [ours]), [{ op: { kind: "put", key: "k", value: "C" }, expect: "A", own: true, saw: { value: "B" } }]);
});

test("survival rule: our value carried onto the winning side (a merge) and deleted there is not applied again", { timeout: 10_000 }, async () => {
  // Simulation seed 33065.
  const { write, plan } = fixture([
    { eventId: "$f", replaces: undefined, content: {}, ts: 1 },
    { eventId: "$o", replaces: "$f", content: { k: "X" }, ts: 2, sender: "@us" },
    { eventId: "$w1", replaces: "$f", content: { k: "X", z: 1 }, ts: 3 },
    { eventId: "$w2", replaces: "$w1", content: { z: 1 }, ts: 4 },
  ]);
  assert.deepEqual(await plan("$w2", [write("$o", "$f", [{ kind: "put", key: "k", value: "X" }])]), []);
});

test("clobber rule: a key changed since our write and set back to our value is not ours to restore over", { timeout: 10_000 }, async () => {
  // Simulation seed 32261: a stale writer set the key back to what our write held; its own clobber
  // rule puts back the change it dropped, ours would have undone that change.
  const { write, plan } = fixture([
    { eventId: "$a", replaces: undefined, content: { k: "A" }, ts: 1 },
    { eventId: "$b", replaces: "$a", content: { k: "B" }, ts: 2 },
    { eventId: "$o", replaces: "$b", content: { k: "A", m: 1 }, ts: 3, sender: "@us" },
    { eventId: "$c", replaces: "$o", content: { k: "C", m: 1 }, ts: 4 },
    { eventId: "$d", replaces: "$c", content: { k: "A", m: 1 }, ts: 5 },
  ]);
  assert.deepEqual(await plan("$d", [write("$o", "$a", [{ kind: "put", key: "m", value: 1 }])]), []);
});

test("clobber rule: a value an op of ours replaced is not put back from a writer whose picture was older", { timeout: 10_000 }, async () => {
  // Simulation seed 724: the replaced event set k back to A (its picture predated our k = B) and
  // shares its one other change with our write, so the stale test cannot tell.
  const { write, plan } = fixture([
    { eventId: "$a", replaces: undefined, content: { k: "A", j: "J0" }, ts: 1 },
    { eventId: "$o1", replaces: "$a", content: { k: "B", j: "J1" }, ts: 2, sender: "@us" },
    { eventId: "$s", replaces: "$o1", content: { k: "A", j: "J1" }, ts: 3 },
    { eventId: "$o2", replaces: "$s", content: { k: "B", j: "J1", m: 1 }, ts: 4, sender: "@us" },
  ]);
  const w1 = write("$o1", "$a", [{ kind: "put", key: "k", value: "B" }], { saw: new Map([["k", "A"]]) });
  const w2 = write("$o2", "$o1", [{ kind: "put", key: "m", value: 1 }]);
  assert.deepEqual(await plan("$o2", [w1, w2]), []);
});

test("survival rule: absence the caller saw is no put-back: a key the winning side set and deleted since the fork stays deleted", { timeout: 10_000 }, async () => {
  // Simulation seed 36078: our first write lost at once; a writer whose sync showed it replaced our
  // value and deleted the key. "The key holds what the caller saw" (absent) said nothing.
  const events: LineageEvent[] = [
    { eventId: "$o", replaces: undefined, content: { k1: "X" }, ts: 2, sender: "@us" },
    { eventId: "$w1", replaces: undefined, content: { k0: 1 }, ts: 3 },
    { eventId: "$w2", replaces: "$w1", content: { k0: 1, k1: "Y" }, ts: 4 },
    { eventId: "$w3", replaces: "$w2", content: { k0: 1 }, ts: 5 },
  ];
  const lineage = new Lineage(async (id) => events.find((e) => e.eventId === id));
  const ours: OurWrite = { eventId: "$o", base: { eventId: undefined, content: {} }, ops: [{ kind: "put", key: "k1", value: "X" }], content: { k1: "X" }, shown: true, holder: false, saw: new Map([["k1", undefined]]) };
  const plan = await planRepairs({ lineage, userId: "@us", current: events[3], ours: [ours], unverified: new Map([["k1", { op: ours.ops[0]!, write: ours }]]), pendingKeys: new Set() });
  assert.deepEqual(plan, []);
});

test("clobber rule: our own earlier op that our stale write dropped is restored, even where the stale test blames the replaced event", { timeout: 10_000 }, async () => {
  // Simulation seed 33193: the replaced event carried our k = B, which differs from its predecessor
  // (a stale writer's k = A) in more keys than from our first write, so it looked stale itself.
  const { write, plan } = fixture([
    { eventId: "$a", replaces: undefined, content: { k: "A", x: 0 }, ts: 1 },
    { eventId: "$o1", replaces: "$a", content: { k: "B", x: 0 }, ts: 2, sender: "@us" },
    { eventId: "$s1", replaces: "$o1", content: { k: "A", x: 1 }, ts: 3 },
    { eventId: "$r", replaces: "$s1", content: { k: "B", x: 2 }, ts: 4 },
    { eventId: "$o2", replaces: "$r", content: { k: "A", x: 1, m: 1 }, ts: 5, sender: "@us" },
  ]);
  const w1 = write("$o1", "$a", [{ kind: "put", key: "k", value: "B" }]);
  const w2 = write("$o2", "$s1", [{ kind: "put", key: "m", value: 1 }]);
  const repairs = await plan("$o2", [w1, w2]);
  assert.deepEqual(
    repairs.sort((p, q) => p.op.key.localeCompare(q.op.key)),
    [
      { op: { kind: "put", key: "k", value: "B" }, expect: "A" },
      { op: { kind: "put", key: "x", value: 2 }, expect: 1 },
    ],
  );
});

test("clobber rule: a key that since held only our value or the one we dropped is still ours to restore", { timeout: 10_000 }, async () => {
  // Simulation seed 40450: a writer carried the value we dropped back, a stale one dropped it again;
  // nobody else changed the key, so nobody else restores it.
  const events: LineageEvent[] = [
    { eventId: "$a", replaces: undefined, content: { k: "P" }, ts: 1 },
    { eventId: "$o", replaces: "$a", content: { j: 1 }, ts: 2, sender: "@us" },
    { eventId: "$c", replaces: "$o", content: { k: "P", j: 1, y: 1 }, ts: 3 },
    { eventId: "$d", replaces: "$c", content: { j: 1, y: 1, z: 1 }, ts: 4 },
  ];
  const lineage = new Lineage(async (id) => events.find((e) => e.eventId === id));
  const ours: OurWrite = { eventId: "$o", base: { eventId: undefined, content: {} }, ops: [{ kind: "put", key: "j", value: 1 }], content: { j: 1 }, shown: true, holder: false };
  const plan = await planRepairs({ lineage, userId: "@us", current: events[3], ours: [ours], unverified: new Map([["j", { op: ours.ops[0]!, write: ours }]]), pendingKeys: new Set() });
  assert.deepEqual(plan, [{ op: { kind: "put", key: "k", value: "P" }, expect: undefined }]);
});

test("survival rule: a repair the server placed where its key no longer held what it expected is not applied again", { timeout: 10_000 }, async () => {
  // Simulation seed 37684: a merge planned on k0 = P2.7 landed on an event holding P2.9 (so it set k0
  // back, stale) and lost a fork; applied again it put P2.8 over P2.9.
  const { write, plan } = fixture([
    { eventId: "$b15", replaces: undefined, content: { k0: "P2.7" }, ts: 1 },
    { eventId: "$b16", replaces: "$b15", content: { k0: "P2.9" }, ts: 2 },
    { eventId: "$merge", replaces: "$b16", content: { k0: "P2.8" }, ts: 3, sender: "@us" },
    { eventId: "$won", replaces: "$b16", content: { k0: "P2.9", k1: "P2.10" }, ts: 4 },
  ]);
  const merge = write("$merge", "$b15", [{ kind: "put", key: "k0", value: "P2.8" }], { expects: new Map([["k0", "P2.7"]]) });
  assert.deepEqual(await plan("$won", [merge]), []);
  // Placed where P2.7 still held, the same lost repair is applied again (the winner never changed k0),
  // and stays a repair (no `own`: the caller's rules are not its rules).
  const { write: write2, plan: plan2 } = fixture([
    { eventId: "$b15", replaces: undefined, content: { k0: "P2.7" }, ts: 1 },
    { eventId: "$merge", replaces: "$b15", content: { k0: "P2.8" }, ts: 3, sender: "@us" },
    { eventId: "$won", replaces: "$b15", content: { k0: "P2.7", k1: "P2.10" }, ts: 4 },
  ]);
  const placed = write2("$merge", "$b15", [{ kind: "put", key: "k0", value: "P2.8" }], { expects: new Map([["k0", "P2.7"]]) });
  assert.deepEqual(await plan2("$won", [placed]), [{ op: { kind: "put", key: "k0", value: "P2.8" }, expect: "P2.7" }]);
});
