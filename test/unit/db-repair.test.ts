import { test } from "node:test";
import assert from "node:assert/strict";
import { lostOwnOps, reflects, restoreTheirChanges } from "../../src/db/repair.js";

test("reflects: a put shows its value, a delete shows the key absent", { timeout: 30_000 }, () => {
  assert.equal(reflects({ a: { x: 1 } }, { kind: "put", key: "a", value: { x: 1 } }), true);
  assert.equal(reflects({ a: { x: 2 } }, { kind: "put", key: "a", value: { x: 1 } }), false);
  assert.equal(reflects({}, { kind: "delete", key: "a" }), true);
  assert.equal(reflects({ a: null }, { kind: "delete", key: "a" }), false);
});

test("clobber rule: their puts and deletes come back, ours and later changes are left alone", { timeout: 30_000 }, () => {
  const ops = restoreTheirChanges({
    theirBefore: { shared: 1, gone: "x", mine: "old" }, // what we built on
    theirAfter: { shared: 1, added: "theirs", mine: "their-view" }, // what we replaced: they added `added`, deleted `gone`
    ourContent: { shared: 1, gone: "x", mine: "ours" }, // our write dropped both changes
    current: { shared: 1, gone: "x", mine: "ours" },
    ours: new Set(["mine"]),
  });
  assert.deepEqual(ops, [
    { kind: "delete", key: "gone" },
    { kind: "put", key: "added", value: "theirs" },
  ]);
});

test("clobber rule: a key changed again since our write is not restored", { timeout: 30_000 }, () => {
  const ops = restoreTheirChanges({
    theirBefore: {},
    theirAfter: { k: "theirs" },
    ourContent: {},
    current: { k: "third writer" },
    ours: new Set(),
  });
  assert.deepEqual(ops, []);
});

test("survival rule: an op lost to an author who never saw it is applied again", { timeout: 30_000 }, () => {
  const own = [
    { kind: "put" as const, key: "a", value: 1 },
    { kind: "put" as const, key: "b", value: 2 },
    { kind: "delete" as const, key: "c" },
  ];
  // The current event replaced content without our `a` and with `c`: its author never saw them.
  const r = lostOwnOps(own, { b: 2, c: "back" }, { c: "back" });
  assert.deepEqual(r.reapply, [own[0], own[2]]);
  assert.deepEqual(r.superseded, []);
});

test("survival rule: a change by an author who saw our value stands", { timeout: 30_000 }, () => {
  const own = [{ kind: "put" as const, key: "a", value: 1 }];
  const r = lostOwnOps(own, { a: 5 }, { a: 1 });
  assert.deepEqual(r, { reapply: [], superseded: ["a"] });
  // Unknown replaced content: no fight.
  assert.deepEqual(lostOwnOps(own, {}, undefined), { reapply: [], superseded: ["a"] });
});
