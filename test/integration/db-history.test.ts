/**
 * History, reads as of a time, restore (docs/HISTORY.md) on the stock Synapse: versions written by
 * two mxdb users and by opsdroid itself, in both state key modes; a shared state key where other
 * keys' writes are not versions of this one; encrypted values decrypted in the history; `at` reads
 * across a delete, by time and by event ID; a restore that shows in the history; a room opsdroid wrote
 * with its legacy `opsdroid.database` events (raw PUTs), migrated, then written by mxdb: one history;
 * `at` reads in a shared state key with many writes go through the room's state at that point
 * (`/timestamp_to_event`, `/context`), not the chain.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Memory, memoryTraceSink, type KeyVersion, type MemoryOptions } from "../../src/index.js";
import { testHomeserver, newUser, type TestUser } from "../helpers/homeserver.js";
import { startOpsdroid } from "../helpers/opsdroid.js";
import { sharedRoom } from "../helpers/rooms.js";
import { eventually } from "../helpers/wait.js";
import { putState } from "../../src/http/endpoints/state/put-state.js";

let baseUrl: string;
let alice: TestUser;
let bob: TestUser;
let olly: TestUser;
const open = new Set<Memory>();
const dirs: string[] = [];
const closers: Array<() => Promise<unknown>> = [];

async function memory(user: TestUser, room: string, options: Partial<MemoryOptions> = {}): Promise<Memory> {
  const store = mkdtempSync(join(tmpdir(), "mxdb-history-"));
  dirs.push(store);
  const m = await Memory.open({ homeserver: baseUrl, accessToken: user.accessToken, deviceId: user.deviceId, rooms: { main: room }, syncTimeoutMs: 2_000, store, ...options } as MemoryOptions);
  open.add(m);
  return m;
}

async function all(it: AsyncIterable<KeyVersion>): Promise<KeyVersion[]> {
  const out: KeyVersion[] = [];
  for await (const v of it) out.push(v);
  return out;
}

const brief = (vs: KeyVersion[]) => vs.map((v) => [v.deleted ? "deleted" : v.value, v.sender]);
const full = (vs: KeyVersion[]) => vs.map((v) => [v.deleted ? "deleted" : v.value, v.sender, v.eventId, v.legacy ?? false]);

before(async () => {
  baseUrl = (await testHomeserver()).info.baseUrl;
  [alice, bob, olly] = await Promise.all([newUser("hist-a"), newUser("hist-b"), newUser("hist-o")]);
});
after(async () => {
  for (const m of open) await m.close().catch(() => undefined);
  for (const c of closers) await c().catch(() => undefined);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

for (const singleStateKey of [true, false]) {
  test(`history by two users and opsdroid, at reads across a delete, restore (singleStateKey ${singleStateKey})`, { timeout: 300_000 }, async () => {
    const room = await sharedRoom(alice, [bob, olly]);
    const a = await memory(alice, room, { singleStateKey, encryption: false });
    const b = await memory(bob, room, { singleStateKey, encryption: false });
    const o = await startOpsdroid({ homeserver: baseUrl, user_id: olly.userId, access_token: olly.accessToken, device_id: olly.deviceId, rooms: { main: room }, single_state_key: singleStateKey, should_encrypt: false });
    closers.push(() => o.close());
    const seen = async (m: Memory, key: string, value: unknown) => eventually(() => m.get(key), (v) => JSON.stringify(v) === JSON.stringify(value));

    await a.put("k", { v: 1 });
    await a.flush();
    await seen(b, "k", { v: 1 });
    await b.put("k", { v: 2 });
    await b.flush();
    await seen(a, "k", { v: 2 });
    // Another key in the same event (shared mode): not a version of k.
    await a.put("other", "x");
    await a.flush();
    await o.put("k", { v: 3 });
    await seen(a, "k", { v: 3 });
    await a.delete("k");
    await a.flush();
    await a.put("k", { v: 5 });
    await a.flush();

    const versions = await all(a.history("k"));
    assert.deepEqual(brief(versions), [[{ v: 5 }, alice.userId], ["deleted", alice.userId], [{ v: 3 }, olly.userId], [{ v: 2 }, bob.userId], [{ v: 1 }, alice.userId]]);
    for (let i = 1; i < versions.length; i++) assert.ok(versions[i - 1]!.ts >= versions[i]!.ts, "newest first");
    assert.deepEqual(brief(await all(a.history("k", { limit: 2 }))), brief(versions.slice(0, 2)));
    assert.deepEqual(brief(await all(a.history("k", { before: versions[1]!.eventId }))), brief(versions.slice(2)));
    // Another writer reads the same history.
    assert.deepEqual(brief(await all(b.history("k"))), brief(versions));

    // As of an event: the version itself; as of a time: the version in force then.
    assert.deepEqual(await a.get("k", { at: versions[3]!.eventId }), { v: 2 });
    assert.equal(await a.get("k", { at: versions[1]!.eventId }), undefined, "deleted then");
    assert.deepEqual(await a.get("k", { at: new Date(versions[2]!.ts) }), { v: 3 });
    assert.equal(await a.get("k", { at: new Date(versions.at(-1)!.ts - 60_000) }), undefined, "before it existed");

    // Restore: a normal write of the old value, which the history then shows.
    assert.deepEqual(await a.restore("k", { to: versions[3]!.eventId }), { v: 2 });
    await a.flush();
    assert.deepEqual(await a.get("k"), { v: 2 });
    const after = await all(a.history("k", { limit: 1 }));
    assert.deepEqual(brief(after), [[{ v: 2 }, alice.userId]]);
    await seen(b, "k", { v: 2 });
  });
}

test("encrypted values are decrypted in the history", { timeout: 300_000 }, async () => {
  const room = await sharedRoom(alice, [bob], { encrypted: true });
  const b = await memory(bob, room);
  const a = await memory(alice, room);
  await a.put("secret", { n: 1 });
  await a.flush();
  await eventually(() => b.get("secret").catch(() => undefined), (v) => v !== undefined, 30_000);
  await b.put("secret", { n: 2 });
  await b.flush();
  await eventually(() => a.get("secret").catch(() => undefined), (v) => JSON.stringify(v) === '{"n":2}', 30_000);
  assert.deepEqual(brief(await all(a.history("secret"))), [[{ n: 2 }, bob.userId], [{ n: 1 }, alice.userId]]);
  assert.deepEqual(brief(await all(b.history("secret"))), [[{ n: 2 }, bob.userId], [{ n: 1 }, alice.userId]]);
});

for (const singleStateKey of [true, false]) {
  test(`legacy opsdroid.database events, migrated, then mxdb writes: one history, oldest versions flagged legacy (singleStateKey ${singleStateKey})`, { timeout: 300_000 }, async () => {
    const room = await sharedRoom(alice, [olly]);
    // What an older opsdroid wrote: opsdroid.database events, put by hand as it put them.
    const legacyPut = async (stateKey: string, content: Record<string, unknown>) =>
      (await olly.client.send(putState, { roomId: room, eventType: "opsdroid.database", stateKey, content })).event_id;
    const v1 = { n: 1 };
    const v2 = { n: 2, list: [1, 2] };
    const v3 = { n: 3 };
    let expected: unknown[][];
    if (singleStateKey) {
      const l1 = await legacyPut("", { k: v1, other: "x" });
      const l2 = await legacyPut("", { k: v2, other: "x" });
      await legacyPut("", { k: v2, other: "y" }); // another key: not a version of k
      const l4 = await legacyPut("", { other: "y" });
      const l5 = await legacyPut("", { k: v3, other: "y" });
      expected = [[v3, olly.userId, l5, true], ["deleted", olly.userId, l4, true], [v2, olly.userId, l2, true], [v1, olly.userId, l1, true]];
    } else {
      // One event per key, its content the value itself (the migration wraps it as {k: value}).
      const l1 = await legacyPut("k", v1);
      const l2 = await legacyPut("k", v2);
      const l3 = await legacyPut("k", v3);
      await legacyPut("other", { x: 1 });
      expected = [[v3, olly.userId, l3, true], [v2, olly.userId, l2, true], [v1, olly.userId, l1, true]];
    }
    // Opening migrates (copies the current legacy events, redacts them); then mxdb writes k twice.
    const a = await memory(alice, room, { singleStateKey, encryption: false });
    assert.deepEqual(await a.get("k"), v3, "migrated");
    await a.put("k", { n: 4 });
    await a.flush();
    await a.put("k", { n: 5 });
    await a.flush();
    const versions = await all(a.history("k"));
    assert.deepEqual(full(versions), [[{ n: 5 }, alice.userId, versions[0]!.eventId, false], [{ n: 4 }, alice.userId, versions[1]!.eventId, false], ...expected]);
    for (let i = 1; i < versions.length; i++) assert.ok(versions[i - 1]!.ts >= versions[i]!.ts, "newest first");
    // Reads as of a legacy version, and paging into the legacy part.
    assert.deepEqual(await a.get("k", { at: expected.at(-2)![2] as string }), expected.at(-2)![0] === "deleted" ? undefined : expected.at(-2)![0]);
    assert.deepEqual(full(await all(a.history("k", { before: versions[1]!.eventId, limit: 2 }))), expected.slice(0, 2));
  });
}

test("get at in a shared state key with many writes reads the room's state there, not the chain; history pages start at before", { timeout: 300_000 }, async () => {
  // Limits lifted for this user: 60 state events in a row, one awaited put each.
  const writer = await newUser("hist-many", { unlimited: true });
  const room = await sharedRoom(writer);
  const trace = memoryTraceSink();
  const m = await memory(writer, room, { singleStateKey: true, encryption: false, trace });
  await m.put("k", "old");
  for (let i = 0; i < 40; i++) await m.put("n", i);
  await m.put("k", "new");
  for (let i = 40; i < 60; i++) await m.put("n", i);
  await m.flush();
  const requests = (from: number) =>
    trace.records
      .slice(from)
      .map((r) => `${r.method} ${new URL(r.url).pathname.replace(/\/rooms\/[^/]+/, "/rooms/R").replace(/\/context\/.*$/, "/context/E")}`)
      .filter((r) => !r.includes("/sync"));
  let from = trace.records.length;
  const versions = await all(m.history("k"));
  assert.deepEqual(versions.map((v) => v.value), ["new", "old"]);
  // The shared state key's chain is read through the type's timeline, a page at a time, not one event per link.
  assert.deepEqual(
    [...new Set(requests(from))].sort(),
    ["GET /_matrix/client/v3/rooms/R/context/E", "GET /_matrix/client/v3/rooms/R/messages", "GET /_matrix/client/v3/rooms/R/state/dev.opsdroid.database/", "GET /_matrix/client/v3/rooms/R/state/opsdroid.database/"],
  );
  from = trace.records.length;
  assert.equal(await m.get("k", { at: new Date(versions[0]!.ts - 1) }), "old");
  assert.deepEqual(requests(from), ["GET /_matrix/client/v1/rooms/R/timestamp_to_event", "GET /_matrix/client/v3/rooms/R/context/E"]);
  from = trace.records.length;
  assert.equal(await m.get("k", { at: versions[0]!.eventId }), "new");
  assert.equal(await m.get("n", { at: versions[0]!.eventId }), 39);
  assert.deepEqual(requests(from), ["GET /_matrix/client/v3/rooms/R/context/E", "GET /_matrix/client/v3/rooms/R/context/E"]);
  assert.equal(await m.get("k", { at: new Date(versions[1]!.ts - 60_000) }), undefined, "before the room had it");

  // A page before a time or a version starts there: the same versions as the full walk.
  assert.deepEqual(brief(await all(m.history("k", { before: versions[0]!.ts }))), brief(versions.slice(1)));
  assert.deepEqual(brief(await all(m.history("k", { before: versions[0]!.eventId }))), brief(versions.slice(1)));
  assert.deepEqual(brief(await all(m.history("n", { before: versions[0]!.ts, limit: 3 }))), [[39, writer.userId], [38, writer.userId], [37, writer.userId]]);
});
