import { test } from "node:test";
import assert from "node:assert/strict";
import { droppedKeys, opFor, reflects, stillOurs } from "../../src/db/repair.js";
import { Lineage, type LineageEvent } from "../../src/db/lineage.js";


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
