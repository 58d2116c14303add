/**
 * On a real Synapse: a store that kept its sync token but lost the room's snapshot is synced again
 * from scratch (no read or write from the hole), and a /sync reply carrying a malformed event is
 * applied without it on both sync paths (classic and state_after), the loop going on.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MalformedEventError, Memory, StoreFormatError } from "../../src/index.js";
import { undiciTransport } from "../../src/http/undici-transport.js";
import type { Transport } from "../../src/http/types.js";
import { STORE_KEYS } from "../../src/sync/store-keys.js";
import { newUser, testHomeserver, type TestUser } from "../helpers/homeserver.js";
import { sharedRoom } from "../helpers/rooms.js";
import { editStore, storeEntries } from "../helpers/store-files.js";
import { eventually } from "../helpers/wait.js";

let hs: Awaited<ReturnType<typeof testHomeserver>>;
let alice: TestUser;
let bob: TestUser;
const open: Memory[] = [];
const dirs: string[] = [];

async function memory(user: TestUser, roomId: string, extra: Partial<Parameters<typeof Memory.open>[0]> = {}): Promise<Memory> {
  const m = await Memory.open({ homeserver: hs.info.baseUrl, accessToken: user.accessToken, rooms: { main: roomId }, syncTimeoutMs: 2000, ...extra });
  open.push(m);
  return m;
}

before(async () => {
  hs = await testHomeserver();
  [alice, bob] = await Promise.all([newUser("alice"), newUser("bob")]);
});
after(async () => {
  await Promise.all(open.map((m) => m.close()));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Edit the store as a crash or a careless user might: remove some entries. */
async function removeEntries(dir: string, keys: string[]): Promise<void> {
  const entries = await storeEntries(dir);
  for (const k of keys) assert.ok(k in entries, `the store held ${k}`);
  await editStore(dir, Object.fromEntries(keys.map((k) => [k, undefined])));
}

const value = (i: number) => ({ i, name: `key ${i}` });

describe("a damaged store on a real Synapse", () => {
  for (const damage of ["snapshot deleted", "snapshot and room list deleted (older store)"] as const) {
    test(`a token without its snapshot (${damage}): open syncs again, every get is right, a new put keeps all 30`, { timeout: 120_000 }, async (t) => {
      const roomId = await sharedRoom(alice, [bob]);
      const dir = mkdtempSync(join(tmpdir(), "mxdb-damaged-"));
      dirs.push(dir);
      const first = await Memory.open({ homeserver: hs.info.baseUrl, accessToken: alice.accessToken, rooms: { main: roomId }, store: dir, encryption: false });
      // All at once: coalesced into a PUT or two (one at a time would be 30 PUTs against rc_message).
      await Promise.all(Array.from({ length: 30 }, (_, i) => first.put(`k${i}`, value(i))));
      await first.flush();
      await first.close();
      await removeEntries(dir, damage === "snapshot deleted" ? [STORE_KEYS.room(roomId)] : [STORE_KEYS.room(roomId), STORE_KEYS.roomList]);

      const errors: unknown[] = [];
      const started = Date.now();
      const again = await memory(alice, roomId, { store: dir, encryption: false, onError: (e) => errors.push(e), timeoutMs: 60_000 });
      t.diagnostic(`open on the damaged store: ${Date.now() - started} ms`);
      assert.ok(errors.some((e) => e instanceof StoreFormatError), "the gap was reported");
      for (let i = 0; i < 30; i++) assert.deepEqual(await again.get(`k${i}`), value(i), `k${i}`);
      await again.put("new", { i: 30 });
      await again.flush();
      const check = await memory(bob, roomId, { encryption: false });
      const expected: Record<string, unknown> = { new: { i: 30 } };
      for (let i = 0; i < 30; i++) expected[`k${i}`] = value(i);
      assert.deepEqual(await eventually(() => check.dump(), (d) => Object.keys(d).length === 31), expected, "the server holds all 31 values");
    });
  }

  test("a snapshot that is not JSON: open fails fast with StoreFormatError naming the key", { timeout: 60_000 }, async () => {
    const roomId = await sharedRoom(alice);
    const dir = mkdtempSync(join(tmpdir(), "mxdb-damaged-"));
    dirs.push(dir);
    const first = await Memory.open({ homeserver: hs.info.baseUrl, accessToken: alice.accessToken, rooms: { main: roomId }, store: dir, encryption: false });
    await first.put("a", 1);
    await first.close();
    const snapshot = (await storeEntries(dir))[STORE_KEYS.room(roomId)];
    assert.ok(snapshot !== undefined, "the store held the room snapshot");
    await editStore(dir, { [STORE_KEYS.room(roomId)]: snapshot.slice(0, 40) });
    await assert.rejects(
      Memory.open({ homeserver: hs.info.baseUrl, accessToken: alice.accessToken, rooms: { main: roomId }, store: dir, encryption: false, timeoutMs: 30_000 }),
      (e: unknown) => e instanceof StoreFormatError && e.key === STORE_KEYS.room(roomId),
    );
  });
});

/** The real transport, with one extra malformed event (a copy of a real one, fields of the wrong type) slipped into one /sync reply. */
function corruptingTransport(roomId: string) {
  const real = undiciTransport();
  const state = { corrupted: 0 };
  const transport: Transport = async (req) => {
    const res = await real(req);
    if (state.corrupted > 0 || !req.url.includes("/sync?") || !req.url.includes("since=") || res.status !== 200) return res;
    const body = JSON.parse(new TextDecoder().decode(res.body)) as { rooms?: { join?: Record<string, Record<string, { events?: Record<string, unknown>[] }>> } };
    const section = body.rooms?.join?.[roomId];
    const events = section?.timeline?.events;
    const real0 = events?.find((e) => e.type === "dev.opsdroid.database");
    if (!section || !events || !real0) return res;
    const bad = { ...real0, type: 42, event_id: "$malformed", state_key: ["not", "a", "string"] };
    events.push(bad);
    for (const name of ["state_after", "org.matrix.msc4222.state_after"]) section[name]?.events?.push(bad);
    state.corrupted++;
    return { ...res, body: new TextEncoder().encode(JSON.stringify(body)) };
  };
  return { transport: Object.assign(transport, { close: () => real.close() }), state };
}

describe("a malformed event in a /sync reply on a real Synapse", () => {
  for (const stateAfter of ["never", "auto"] as const) {
    test(`stateAfter "${stateAfter}": the event is dropped and reported, the rest applied, reads and writes agree with the server`, { timeout: 120_000 }, async (t) => {
      const roomId = await sharedRoom(alice, [bob]);
      const { transport, state } = corruptingTransport(roomId);
      const errors: unknown[] = [];
      const a = await memory(alice, roomId, { transport, stateAfter, encryption: false, onError: (e) => errors.push(e) });
      const b = await memory(bob, roomId, { encryption: false });
      const started = Date.now();
      await b.put("from-bob", { n: 1 });
      assert.deepEqual(await eventually(() => a.get("from-bob"), (v) => v !== undefined, 60_000), { n: 1 }, "the reply's good event was applied");
      t.diagnostic(`bob's write seen through the corrupted reply after ${Date.now() - started} ms`);
      assert.equal(state.corrupted, 1, "one reply was corrupted");
      assert.ok(errors.some((e) => e instanceof MalformedEventError && e.eventId === "$malformed"), "the malformed event was reported");
      await b.put("later", { n: 2 });
      assert.deepEqual(await eventually(() => a.get("later"), (v) => v !== undefined, 30_000), { n: 2 }, "the loop goes on after it");
      await a.put("from-alice", { n: 3 });
      await a.flush();
      const fresh = await memory(bob, roomId, { encryption: false });
      assert.deepEqual(await fresh.get("from-alice"), { n: 3 });
      await a.close();
      await transport.close();
    });
  }
});
