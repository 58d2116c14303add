import { test } from "node:test";
import assert from "node:assert/strict";
import { applyOps, isEncryptedRef, jsonEqual, planLegacyMigration, stateKeyFor } from "../../src/db/format.js";
import { estimateEventSize } from "../../src/db/size.js";
import { validateValue } from "../../src/db/validate.js";

test("state keys follow opsdroid's rule, including its empty-string quirk", { timeout: 30_000 }, () => {
  assert.equal(stateKeyFor(true, "k"), "");
  assert.equal(stateKeyFor(false, "k"), "k");
  assert.equal(stateKeyFor("fixed", "k"), "fixed");
  assert.equal(stateKeyFor("", "k"), "k"); // `"" if single is True else single or key`
});

test("an encrypted reference is exactly one encrypted_val field", { timeout: 30_000 }, () => {
  assert.equal(isEncryptedRef({ encrypted_val: "$e" }), true);
  assert.equal(isEncryptedRef({ encrypted_val: "$e", more: 1 }), false);
  assert.equal(isEncryptedRef(["encrypted_val"]), false);
  assert.equal(isEncryptedRef(null), false);
});

test("ops apply in order to a copy", { timeout: 30_000 }, () => {
  const before = { a: 1, b: 2 };
  const after = applyOps(before, [{ kind: "put", key: "c", value: 3 }, { kind: "delete", key: "a" }, { kind: "put", key: "c", value: 4 }]);
  assert.deepEqual(after, { b: 2, c: 4 });
  assert.deepEqual(before, { a: 1, b: 2 });
});

test("jsonEqual ignores key order and tells arrays from objects", { timeout: 30_000 }, () => {
  assert.equal(jsonEqual({ a: [1, { b: 2, c: 3 }] }, { a: [1, { c: 3, b: 2 }] }), true);
  assert.equal(jsonEqual([1], { 0: 1 }), false);
  assert.equal(jsonEqual({ a: undefined }, {}), false);
});

test("legacy migration: only without any dev.opsdroid.database event, non-empty legacy content, wrapped when single_state_key is falsy", { timeout: 30_000 }, () => {
  const legacy = new Map([
    ["", { content: { k: 1 }, event_id: "$l1" }],
    ["x", { content: {}, event_id: "$l2" }],
    ["y", { content: { v: 2 }, event_id: "$l3" }],
  ]);
  assert.deepEqual(planLegacyMigration(new Map(), legacy, true), [
    { stateKey: "", content: { k: 1 }, redacts: "$l1" },
    { stateKey: "y", content: { v: 2 }, redacts: "$l3" },
  ]);
  assert.deepEqual(planLegacyMigration(new Map(), legacy, false)[1], { stateKey: "y", content: { y: { v: 2 } }, redacts: "$l3" });
  assert.deepEqual(planLegacyMigration(new Map([["", { content: {} }]]), legacy, true), []);
});

test("floats are refused in plaintext state only", { timeout: 30_000 }, () => {
  assert.throws(() => validateValue("k", { f: 1.5 }, true), /float/);
  assert.doesNotThrow(() => validateValue("k", { f: 1.5 }, false));
});

test("the size estimate is never below the real event size", { timeout: 30_000 }, () => {
  // Synapse 1.163.2 accepted content {"v": "x" * 64856} and refused one byte more (measured in a
  // room v12 with a 27-character user ID); the envelope it built was therefore at least 672 bytes.
  const shape = { roomId: `!${"r".repeat(43)}`, sender: "@probe-13ff1df9a6:localhost", type: "dev.opsdroid.database", stateKey: "" };
  const size = estimateEventSize({ ...shape, content: { v: "x".repeat(64857) } });
  assert.ok(size > 65_536, `estimate ${size} for an event the server refused`);
});
