/**
 * Memory on a real Synapse: read-your-writes, coalesced bursts, concurrent writers, rooms, per-key mode.
 *
 * mxdb-test: msc4222-too (durability-relevant: runs on the MSC4222 sync path too)
 * mxdb-test: postgres-too (and on a Synapse with PostgreSQL, as production runs it)
 * mxdb-test: dendrite-too (and on a stock Dendrite, the second implementation: docs/HOMESERVERS.md "Dendrite")
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { Memory, memoryInEventRoom, UnverifiableWriteError } from "../../src/index.js";
import { memoryTraceSink } from "../../src/http/trace.js";
import { expectedSyncPath, testHomeserver, testImplementation, newUser, testStateAfter, type TestUser } from "../helpers/homeserver.js";
import { sharedRoom } from "../helpers/rooms.js";
import { serverValues, stateRecordSummary } from "../helpers/durability.js";
import { eventually } from "../helpers/wait.js";

let hs: Awaited<ReturnType<typeof testHomeserver>>;
let alice: TestUser;
let bob: TestUser;
let roomId: string;
const open: Memory[] = [];

async function memory(user: TestUser, extra: Partial<Parameters<typeof Memory.open>[0]> = {}): Promise<Memory> {
  const m = await Memory.open({ homeserver: hs.info.baseUrl, accessToken: user.accessToken, rooms: { main: roomId }, syncTimeoutMs: 5000, stateAfter: testStateAfter(), ...extra });
  open.push(m);
  return m;
}

before(async () => {
  hs = await testHomeserver();
  [alice, bob] = await Promise.all([newUser("alice"), newUser("bob")]);
  roomId = await sharedRoom(alice, [bob]);
});
after(async () => {
  await Promise.all(open.map((m) => m.close()));
});

describe("Memory on a real Synapse", () => {
  test("the sync path comes from /versions: classic on a stock Synapse (spec v1.15, no MSC4222), and the wire shows it", { timeout: 180_000 }, async () => {
    const trace = memoryTraceSink();
    const room = await sharedRoom(alice, [bob]);
    const a = await memory(alice, { rooms: { main: room }, trace });
    await a.put("path", { chosen: a.capabilities.syncPath });
    await a.flush();
    assert.equal(a.capabilities.syncPath, expectedSyncPath());
    assert.equal(a.capabilities.syncPathForced, testStateAfter() !== "auto");
    // Dendrite 0.13.8 lists spec versions up to v1.2: the legacy media endpoints (docs/HOMESERVERS.md "Dendrite").
    const dendrite = testImplementation() === "dendrite";
    assert.equal(a.capabilities.media, dendrite ? "legacy" : "authenticated");
    assert.ok(a.capabilities.versions.includes(dendrite ? "v1.2" : "v1.11"), `versions ${a.capabilities.versions.join(",")}`);
    const versions = trace.records.filter((r) => r.url.endsWith("/_matrix/client/versions"));
    assert.deepEqual(versions.map((r) => r.method), ["GET"], "/versions is asked once, at open");
    const syncs = trace.records.filter((r) => r.url.includes("/_matrix/client/v3/sync"));
    assert.ok(syncs.length > 0);
    const params = new Set(syncs.flatMap((r) => [...new URL(r.url).searchParams.keys()].filter((k) => k.includes("state_after"))));
    assert.deepEqual([...params], expectedSyncPath() === "classic" ? [] : ["org.matrix.msc4222.use_state_after"]);
    const b = await memory(bob, { rooms: { main: room }, trace: undefined });
    assert.deepEqual(await b.get("path"), { chosen: expectedSyncPath() });
  });

  test("put, get and delete read their own writes at once, and another client sees them", { timeout: 180_000 }, async () => {
    const a = await memory(alice);
    const put = a.put("twim", { hello: "world" });
    assert.deepEqual(await a.get("twim"), { hello: "world" }); // before the write lands
    await put;
    const mine = (await a.get("twim")) as { hello: string };
    mine.hello = "changed by the caller";
    assert.deepEqual(await a.get("twim"), { hello: "world" }, "a caller's change to a result is not the memory's");
    const b = await memory(bob);
    assert.deepEqual(await b.get("twim"), { hello: "world" });
    assert.deepEqual(await a.delete("twim"), { hello: "world" });
    assert.equal(await a.get("twim"), undefined);
    await a.flush();
  });

  test("a burst of 1,000 puts over 100 keys costs at most 5 state PUTs and every value reads back", { timeout: 180_000 }, async (t) => {
    const trace = memoryTraceSink();
    const room = await sharedRoom(alice);
    const a = await memory(alice, { rooms: { main: room }, trace });
    const puts: Promise<void>[] = [];
    for (let i = 0; i < 1000; i++) puts.push(a.put(`k${i % 100}`, { i }));
    await Promise.all(puts);
    await a.flush();
    const statePuts = trace.records.filter((r) => r.method === "PUT" && r.url.includes("/state/dev.opsdroid.database"));
    t.diagnostic(`1,000 puts over 100 keys: ${statePuts.length} state PUT(s) on the wire`);
    assert.ok(statePuts.length >= 1 && statePuts.length <= 5, `state PUTs: ${statePuts.length}`);
    for (let k = 0; k < 100; k++) assert.deepEqual(await a.get(`k${k}`), { i: 900 + k });
    const b = await memory(bob, { rooms: { main: room } }).catch(async () => memory(alice, { rooms: { main: room } }));
    assert.deepEqual(await b.get("k42"), { i: 942 });
  });

  test("two writers putting different keys into one state event at the same time both survive", { timeout: 180_000 }, async (t) => {
    const room = await sharedRoom(alice, [bob]);
    // Traced, so a loss in CI can be replayed from the writers' state requests.
    const traces = { a: memoryTraceSink(), b: memoryTraceSink() };
    const a = await memory(alice, { rooms: { main: room }, trace: traces.a });
    const b = await memory(bob, { rooms: { main: room }, trace: traces.b });
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 50; i++) {
      writes.push(a.put(`a${i}`, i));
      writes.push(b.put(`b${i}`, i));
      if (i % 10 === 9) await new Promise((r) => setTimeout(r, 5));
    }
    await Promise.all(writes);
    const flushed = await Promise.allSettled([a.flush(), b.flush()]);
    if (testImplementation() === "dendrite") {
      // Dendrite's replaces_state cannot show forks, so a writer whose ops another writer's event
      // lacks cannot repair soundly: it fails with a typed error naming its keys instead of guessing
      // (docs/HOMESERVERS.md "Dendrite"). When no write was lost, both flushes succeed.
      // close() reports the same unverified writes, then closes.
      const failed = [...flushed, ...(await Promise.allSettled([a.close(), b.close()]))].filter((r) => r.status === "rejected").map((r) => (r as PromiseRejectedResult).reason as unknown);
      for (const e of failed) assert.ok(e instanceof UnverifiableWriteError, String(e));
      t.diagnostic(`Dendrite: ${failed.length} of 4 flush/close calls rejected with UnverifiableWriteError`);
      if (failed.length > 0) return;
    }
    for (const r of flushed) if (r.status === "rejected") throw r.reason;
    const expected: Record<string, unknown> = {};
    for (let i = 0; i < 50; i++) Object.assign(expected, { [`a${i}`]: i, [`b${i}`]: i });
    const wire = () => stateRecordSummary({ a: traces.a.records, b: traces.b.records });
    // Acknowledged means durable once flush() resolved: the server's state holds every value now.
    const server = await serverValues(alice, room);
    assert.deepEqual(server, expected, `the server's state after both flushes; the writers' state requests:\n${wire()}`);
    // A fresh reader's picture: the same values (its classic sync must not pick a fork's loser).
    const c = await memory(alice, { rooms: { main: room } });
    const seen = await eventually(async () => Object.fromEntries(await Promise.all((await c.keys()).map(async (k) => [k, await c.get(k)]))), (v) => Object.keys(v).length >= 100);
    assert.deepEqual(seen, expected, `a fresh reader's values; the writers' state requests:\n${wire()}`);
  });

  test("inRoom scopes the room to its own async context", { timeout: 180_000 }, async () => {
    const other = await sharedRoom(alice);
    const a = await memory(alice);
    await Promise.all([
      a.inRoom(other, async () => {
        await new Promise((r) => setTimeout(r, 20));
        await a.put("where", "other");
      }),
      a.put("where", "main"),
    ]);
    assert.equal(await a.get("where"), "main");
    assert.equal(await a.inRoom(other, () => a.get("where")), "other");
    const handler = memoryInEventRoom(a, async (message: { target: string }) => a.get("where"));
    assert.equal(await handler({ target: other }), "other");
  });

  test("singleStateKey false stores each key in its own event, in opsdroid's format", { timeout: 180_000 }, async () => {
    const a = await memory(alice, { singleStateKey: false });
    await a.put("solo", [1, 2, 3]);
    const b = await memory(bob, { singleStateKey: false });
    assert.deepEqual(await b.get("solo"), [1, 2, 3]);
    assert.deepEqual(await a.delete(["solo", "absent"]), [[1, 2, 3], undefined]);
    await a.flush();
  });
});
