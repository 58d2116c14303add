/**
 * The durability checker (test/sim/checker.ts) on hand-made histories: one that must pass, and
 * several that must fail, each for its own reason.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { checkDurability, type History, type OpRecord } from "../sim/checker.js";

const put = (id: string, key: string, saw: string | undefined, acknowledged = true): OpRecord => ({
  id,
  process: id.split(".")[0]!,
  key,
  kind: "put",
  value: { w: id },
  saw,
  status: "resolved",
  acknowledged,
});
const del = (id: string, key: string, saw: string | undefined, acknowledged = true): OpRecord => ({ ...put(id, key, saw, acknowledged), kind: "delete", value: undefined });
const kinds = (h: History, final: Record<string, unknown>) => checkDurability(h, final).map((v) => `${v.kind} ${v.op}`);

test("passes: the final value is the newest op, a concurrent op, or an op that saw the acknowledged one", { timeout: 10_000 }, () => {
  const h: History = {
    keys: ["a", "b", "c"],
    initial: { a: { w: "init" } },
    ops: [put("A.1", "a", "init:a"), put("B.2", "a", "A.1"), put("A.3", "b", undefined), put("B.4", "b", undefined), put("A.5", "c", undefined), del("B.6", "c", "A.5")],
  };
  // a: B.2 saw A.1 (replaced it knowingly); b: A.3 and B.4 are concurrent, either may win; c: deleted by one who saw it.
  assert.deepEqual(kinds(h, { a: { w: "B.2" }, b: { w: "A.3" } }), []);
  assert.deepEqual(kinds(h, { a: { w: "B.2" }, b: { w: "B.4" } }), []);
});

test("fails: an acknowledged put reverted to the value it replaced (its own writer's older put)", { timeout: 10_000 }, () => {
  const h: History = { keys: ["a"], initial: {}, ops: [put("A.1", "a", undefined), put("A.2", "a", "A.1")] };
  assert.deepEqual(kinds(h, { a: { w: "A.1" } }), ["reverted A.2"]);
});

test("fails: reverted to the initial value, or to an op further down the saw chain", { timeout: 10_000 }, () => {
  const h: History = { keys: ["a"], initial: { a: { w: "init" } }, ops: [put("A.1", "a", "init:a"), put("B.2", "a", "A.1"), put("C.3", "a", "B.2")] };
  assert.deepEqual(kinds(h, { a: { w: "init" } }), ["reverted A.1", "reverted B.2", "reverted C.3"]);
  assert.deepEqual(kinds(h, { a: { w: "A.1" } }), ["reverted B.2", "reverted C.3"]);
});

test("fails: an acknowledged put gone with no delete that could explain it", { timeout: 10_000 }, () => {
  const h: History = { keys: ["a"], initial: {}, ops: [put("A.1", "a", undefined), del("A.2", "a", undefined, false), put("A.3", "a", "A.1")] };
  // A.2 is in nobody's closure: it may explain the absence, for A.1 and A.3 alike.
  assert.deepEqual(kinds(h, {}), []);
  const noDelete: History = { ...h, ops: [h.ops[0]!, h.ops[2]!] };
  assert.deepEqual(kinds(noDelete, {}), ["lost A.1", "lost A.3"]);
});

test("fails: an acknowledged delete undone by a put its writer had seen", { timeout: 10_000 }, () => {
  const h: History = { keys: ["a"], initial: {}, ops: [put("A.1", "a", undefined), del("B.2", "a", "A.1")] };
  assert.deepEqual(kinds(h, { a: { w: "A.1" } }), ["reverted B.2"]);
});

test("fails: a final value no op wrote, and a view that showed one", { timeout: 10_000 }, () => {
  const h: History = { keys: ["a"], initial: {}, ops: [put("A.1", "a", undefined), put("B.2", "a", "?", false)] };
  assert.deepEqual(kinds(h, { a: { w: "nobody" } }), ["view-foreign B.2", "foreign A.1"]);
});

test("ops that were never acknowledged are not promised anything", { timeout: 10_000 }, () => {
  const h: History = { keys: ["a"], initial: {}, ops: [put("A.1", "a", undefined), put("A.2", "a", "A.1", false)] };
  assert.deepEqual(kinds(h, { a: { w: "A.1" } }), []);
});
