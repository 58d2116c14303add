/**
 * Two-way compatibility with opsdroid's own DatabaseMatrix (0.31.0, driven by bench/opsdroid_driver.py)
 * on the real Synapse: what opsdroid writes, mxdb reads, and the reverse, in all three
 * single_state_key modes, with nested values, unicode keys, list deletes and a legacy room.
 */
import { after, before, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { Memory, MigrationError, type SingleStateKey } from "../../src/index.js";
import { join } from "../../src/http/endpoints/rooms/join.js";
import { memoryTraceSink } from "../../src/http/trace.js";
import { getAllState } from "../../src/http/endpoints/state/get-all-state.js";
import { putState } from "../../src/http/endpoints/state/put-state.js";
import { newUser, testHomeserver, type TestUser } from "../helpers/homeserver.js";
import { startOpsdroid, type OpsdroidDriver } from "../helpers/opsdroid.js";
import { sharedRoom } from "../helpers/rooms.js";

const NESTED = { list: [1, { deep: null, t: true }], big: 2 ** 53 - 1, neg: -42, s: "ünïcödé ✓" };
const UNICODE_KEY = "ключ ✓ 鍵";

let baseUrl: string;
let alice: TestUser; // mxdb
let olly: TestUser; // opsdroid
const closers: Array<() => Promise<void>> = [];

before(async () => {
  baseUrl = (await testHomeserver()).info.baseUrl;
  alice = await newUser("alice");
});
// A fresh opsdroid user per test: opsdroid sends a state PUT per put, and one user's PUTs for the
// whole file would wait out Synapse's default rc_message (0.2/s, burst 10). alice (mxdb) stays one.
beforeEach(async () => {
  olly = await newUser("olly");
});
after(async () => {
  for (const c of closers.reverse()) await c();
});

async function mxdb(roomId: string, singleStateKey: SingleStateKey): Promise<Memory> {
  const m = await Memory.open({ homeserver: baseUrl, accessToken: alice.accessToken, rooms: { main: roomId }, singleStateKey, syncTimeoutMs: 5000 });
  closers.push(() => m.close());
  return m;
}

async function opsdroid(roomId: string, single: SingleStateKey): Promise<OpsdroidDriver> {
  const d = await startOpsdroid({ homeserver: baseUrl, user_id: olly.userId, access_token: olly.accessToken, device_id: olly.deviceId, rooms: { main: roomId }, single_state_key: single, should_encrypt: false });
  closers.push(() => d.close());
  return d;
}

async function databaseEvents(roomId: string) {
  const state = await alice.client.send(getAllState, { roomId });
  return state.filter((e) => e.type === "dev.opsdroid.database").map((e) => ({ stateKey: e.state_key, content: e.content }));
}

for (const mode of [true, false, "fixed-name"] as const) {
  describe(`single_state_key: ${JSON.stringify(mode)}`, () => {
    test("what opsdroid writes, mxdb reads; what mxdb writes, opsdroid reads", { timeout: 600_000 }, async () => {
      const roomId = await sharedRoom(alice, [olly]);
      const ops = await opsdroid(roomId, mode);
      await ops.put("twim", { hello: "world" });
      await ops.put(UNICODE_KEY, NESTED);
      await ops.put("doomed", "bye");

      const db = await mxdb(roomId, mode);
      assert.deepEqual(await db.get("twim"), { hello: "world" });
      assert.deepEqual(await db.get(UNICODE_KEY), NESTED);
      assert.equal(await db.get("doomed"), "bye");

      await db.put("from-mxdb", { x: [1, 2, 3], nested: NESTED });
      await db.put("twim", { hello: "mxdb" });
      assert.deepEqual(await db.delete(["doomed", "absent"]), ["bye", undefined]);
      await db.flush();

      assert.deepEqual(await ops.get("from-mxdb"), { x: [1, 2, 3], nested: NESTED });
      assert.deepEqual(await ops.get("twim"), { hello: "mxdb" });
      assert.equal(await ops.get("doomed"), null);
      assert.deepEqual(await ops.get(UNICODE_KEY), NESTED);

      // The exact format on the wire: one event for all keys, or one per key with {key: value}.
      const events = await databaseEvents(roomId);
      if (mode === false) {
        const byKey = new Map(events.map((e) => [e.stateKey, e.content]));
        assert.deepEqual(byKey.get("from-mxdb"), { "from-mxdb": { x: [1, 2, 3], nested: NESTED } });
        assert.deepEqual(byKey.get("doomed"), {}); // a deleted key's event keeps existing, empty
      } else {
        assert.equal(events.length, 1);
        assert.equal(events[0]!.stateKey, mode === true ? "" : mode);
        assert.deepEqual(Object.keys(events[0]!.content).sort(), ["from-mxdb", "twim", UNICODE_KEY].sort());
      }
    });

    test("list deletes both ways return the removed values", { timeout: 600_000 }, async () => {
      const roomId = await sharedRoom(alice, [olly]);
      const db = await mxdb(roomId, mode);
      await db.put("a", 1);
      await db.put("b", [2]);
      await db.put("c", { three: 3 });
      await db.flush();
      const ops = await opsdroid(roomId, mode);
      if (mode === false) {
        // opsdroid uses the list itself as the state key in this mode (its own limitation): one key at a time.
        assert.equal(await ops.delete("a"), 1);
      } else {
        assert.deepEqual(await ops.delete(["a", "b"]), [1, [2]]);
      }
      const fresh = await mxdb(roomId, mode);
      assert.equal(await fresh.get("a"), undefined);
      assert.deepEqual(await fresh.delete(mode === false ? ["b", "c"] : ["c", "a"]), mode === false ? [[2], { three: 3 }] : [{ three: 3 }, undefined]);
      await fresh.flush();
      assert.equal(await ops.get("c"), null);
    });
  });
}

describe("legacy opsdroid.database rooms", () => {
  for (const mode of [true, false] as const) {
    test(`mxdb migrates them once, as opsdroid does (single_state_key: ${mode})`, { timeout: 600_000 }, async () => {
      const roomId = await sharedRoom(alice, [olly]);
      const legacyKey = mode ? "" : "old";
      const legacyContent = mode ? { old: "value", n: 1 } : { nested: { v: 1 } };
      await alice.client.send(putState, { roomId, eventType: "opsdroid.database", stateKey: legacyKey, content: legacyContent });
      const db = await mxdb(roomId, mode);
      if (mode) {
        assert.equal(await db.get("old"), "value");
        assert.equal(await db.get("n"), 1);
      } else {
        assert.deepEqual(await db.get("old"), { nested: { v: 1 } });
      }
      await db.flush();
      const state = await alice.client.send(getAllState, { roomId });
      const copied = state.find((e) => e.type === "dev.opsdroid.database" && e.state_key === legacyKey);
      assert.deepEqual(copied?.content, mode ? legacyContent : { old: legacyContent });
      const legacy = state.find((e) => e.type === "opsdroid.database");
      assert.deepEqual(legacy?.content, {}, "the legacy event is redacted");
      // opsdroid reads the migrated data and does not migrate again.
      const ops = await opsdroid(roomId, mode);
      assert.deepEqual(await ops.get(mode ? "old" : "old"), mode ? "value" : { nested: { v: 1 } });
    });
  }
});

describe("a legacy migration that fails", () => {
  test("is reported to the call that ran it, and not retried on every call", { timeout: 600_000 }, async () => {
    // Bob may read but not write state (power level 0 < state_default 50): his migration PUT is refused.
    const roomId = await sharedRoom(alice);
    await alice.client.send(putState, { roomId, eventType: "opsdroid.database", stateKey: "", content: { old: 1 } });
    await alice.client.send(putState, {
      roomId,
      eventType: "m.room.join_rules",
      stateKey: "",
      content: { join_rule: "public" },
    });
    await olly.client.send(join, { roomIdOrAlias: roomId });
    const trace = memoryTraceSink();
    await assert.rejects(
      Memory.open({ homeserver: baseUrl, accessToken: olly.accessToken, rooms: { main: roomId }, syncTimeoutMs: 5000, trace }),
      (e: unknown) => e instanceof MigrationError && /M_FORBIDDEN/.test(e.message),
    );
    const db = await Memory.open({ homeserver: baseUrl, accessToken: olly.accessToken, rooms: { main: roomId }, syncTimeoutMs: 5000, trace }).catch((e: unknown) => e);
    assert.ok(db instanceof MigrationError, "a new memory reports it again: each process tries once");
    const inRoom = await Memory.open({ homeserver: baseUrl, accessToken: olly.accessToken, rooms: { main: roomId, other: await sharedRoom(olly) }, defaultRoom: "other", syncTimeoutMs: 5000, trace });
    closers.push(() => inRoom.close());
    await assert.rejects(inRoom.inRoom("main", () => inRoom.get("old")), MigrationError);
    const before = trace.records.filter((r) => r.method === "PUT").length;
    assert.equal(await inRoom.inRoom("main", () => inRoom.get("old")), undefined);
    assert.equal(await inRoom.inRoom("main", () => inRoom.get("old")), undefined);
    assert.equal(trace.records.filter((r) => r.method === "PUT").length, before, "no second attempt");
  });
});
