/**
 * Room state is saved as a base and per-sync deltas (src/sync/snapshots.ts): a sync that changes one
 * key writes one small delta, not the room; loading gives back exactly the room; a new base makes
 * older deltas stale; a missing delta is a damaged store, not a silent hole. No I/O: planSync's
 * entries go into a MemoryStore as the loop would write them.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { SyncResponse } from "../../src/http/endpoints/sync/sync.js";
import type { RoomState } from "../../src/state/room-state.js";
import type { StateEvent } from "../../src/state/types.js";
import { MemoryStore, StoreFormatError } from "../../src/store/store.js";
import { planSync, type SyncPlan } from "../../src/sync/apply.js";
import { loadRooms } from "../../src/sync/load.js";
import { DELTA_PREFIX, deltaKey, type SnapshotInfo } from "../../src/sync/snapshots.js";
import { STORE_KEYS } from "../../src/sync/store-keys.js";

const ROOM = "!big:hs";
const USER = "@me:hs";
let n = 0;
const ev = (stateKey: string, content: Record<string, unknown>): StateEvent => ({ type: "dev.opsdroid.database", state_key: stateKey, content, sender: USER, event_id: `$e${++n}`, origin_server_ts: 1000 + n });
const base = [
  { type: "m.room.create", state_key: "", content: { room_version: "10", creator: USER }, sender: USER, event_id: "$create", origin_server_ts: 1 },
  { type: "m.room.member", state_key: USER, content: { membership: "join" }, sender: USER, event_id: "$join", origin_server_ts: 2 },
];

function response(batch: number, section: Record<string, unknown>): SyncResponse {
  return { next_batch: `s${batch}`, rooms: { join: { [ROOM]: section } } } as unknown as SyncResponse;
}

const sorted = (room: RoomState | undefined) => JSON.stringify([...(room?.events() ?? [])].sort((a, b) => (a.event_id < b.event_id ? -1 : 1)));

async function write(store: MemoryStore, plan: SyncPlan): Promise<void> {
  await store.setMany(plan.entries);
}

test("a sync that changes one key writes one small delta; the store reloads to the same room; deltas outgrow the base into a new one", { timeout: 30_000 }, async () => {
  const store = new MemoryStore();
  const initial = [...base, ...Array.from({ length: 500 }, (_, i) => ev(`key-${i}`, { [`key-${i}`]: { i, note: "x".repeat(100) } }))];
  let plan = planSync(new Map(), response(0, { state: { events: initial }, timeline: { events: [] } }), { initial: true, stateAfterExpected: false, userId: USER });
  await write(store, plan);
  assert.ok(STORE_KEYS.room(ROOM) in plan.entries, "the first sync writes the base");
  const baseBytes = plan.entries[STORE_KEYS.room(ROOM)]!.length;
  let rooms = plan.rooms;
  let snapshots: Map<string, SnapshotInfo> = plan.snapshots;
  let deltas = 0;
  let rebased = false;
  for (let i = 1; i <= 400 && !rebased; i++) {
    const change = ev(`key-${i % 500}`, { [`key-${i % 500}`]: { i, note: "changed" } });
    plan = planSync(rooms, response(i, { timeline: { events: [change] } }), { initial: false, stateAfterExpected: false, userId: USER, snapshots });
    const written = Object.keys(plan.entries).sort();
    if (STORE_KEYS.room(ROOM) in plan.entries) {
      rebased = true;
      const before = snapshots.get(ROOM)!;
      assert.ok(before.deltaBytes > Math.max(64 * 1024, before.baseBytes / 2) - 400, `a new base only once the deltas are big (${deltas} deltas, ${before.deltaBytes} bytes)`);
      assert.equal(plan.snapshots.get(ROOM)!.deltaFrom, deltas, "deltas go on being numbered after the new base");
    } else {
      assert.deepEqual(written, [deltaKey(ROOM, deltas), STORE_KEYS.roomList, STORE_KEYS.nextBatch].sort());
      const bytes = Object.values(plan.entries).reduce((s, v) => s + (v?.length ?? 0), 0);
      assert.ok(bytes < 400, `one change costs ${bytes} bytes, the room ${baseBytes}`);
      deltas++;
    }
    await write(store, plan);
    rooms = plan.rooms;
    snapshots = plan.snapshots;
    const loaded = await loadRooms(store, true);
    assert.equal(loaded.token, `s${i}`);
    assert.equal(sorted(loaded.rooms.get(ROOM)), sorted(rooms.get(ROOM)), `reload after sync ${i}`);
    assert.deepEqual(loaded.snapshots.get(ROOM), snapshots.get(ROOM));
  }
  assert.ok(rebased, "a new base was written");
  // The stale deltas are still in this store (the loop deletes them in the same write): they are ignored.
  assert.ok((await store.keys(DELTA_PREFIX)).length >= deltas);
  assert.equal(sorted((await loadRooms(store, true)).rooms.get(ROOM)), sorted(rooms.get(ROOM)));
});

test("a missing delta is a damaged store (StoreFormatError naming the room), never a silent hole", { timeout: 30_000 }, async () => {
  const store = new MemoryStore();
  let plan = planSync(new Map(), response(0, { state: { events: [...base, ev("a", { a: 1 })] }, timeline: { events: [] } }), { initial: true, stateAfterExpected: false, userId: USER });
  await write(store, plan);
  for (let i = 1; i <= 3; i++) {
    plan = planSync(plan.rooms, response(i, { timeline: { events: [ev("a", { a: i + 1 })] } }), { initial: false, stateAfterExpected: false, userId: USER, snapshots: plan.snapshots });
    await write(store, plan);
  }
  assert.deepEqual((await loadRooms(store, true)).rooms.get(ROOM)?.get("dev.opsdroid.database", "a")?.content, { a: 4 });
  await store.delete(deltaKey(ROOM, 1));
  await assert.rejects(loadRooms(store, true), (e: unknown) => e instanceof StoreFormatError && e.key === STORE_KEYS.room(ROOM) && /delta 1 .* missing/.test(e.message));
});

test("a store written before deltas (a base alone, no deltaFrom) still loads", { timeout: 30_000 }, async () => {
  const store = new MemoryStore();
  const events = [...base, ev("a", { a: 1 })];
  await store.setMany({
    [STORE_KEYS.nextBatch]: "s9",
    [STORE_KEYS.roomList]: JSON.stringify([ROOM]),
    [STORE_KEYS.room(ROOM)]: JSON.stringify({ version: 1, roomId: ROOM, events }),
  });
  const loaded = await loadRooms(store, true);
  assert.equal(loaded.rooms.get(ROOM)?.get("dev.opsdroid.database", "a")?.content.a, 1);
  assert.deepEqual(loaded.snapshots.get(ROOM), { next: 0, deltaFrom: 0, deltaBytes: 0, baseBytes: JSON.stringify({ version: 1, roomId: ROOM, events }).length });
});
