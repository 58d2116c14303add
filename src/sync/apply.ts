/**
 * One /sync response -> the next picture of every room, the Store entries that save it with the
 * token, and what to tell listeners. No I/O: the loop writes the entries and only then swaps the
 * picture in and notifies (see ./README.md).
 * Spec: https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3sync
 */
import type { SyncResponse } from "../http/endpoints/sync/sync.js";
import { reduceJoinedRoom, stateAfterEvents, type SyncMode } from "../state/reduce.js";
import type { RoomState } from "../state/room-state.js";
import type { JoinedRoomSync, StateChange } from "../state/types.js";
import { snapshotEntries, type SnapshotInfo } from "./snapshots.js";
import { STORE_KEYS } from "./store-keys.js";

export interface ApplyOptions {
  /** No `since` was sent (or full_state): every joined room's state comes whole. */
  initial: boolean;
  /** The server has answered with state_after before: a room without it has no state delta. */
  stateAfterExpected: boolean;
  userId: string;
  /** Save room snapshots (false when nothing outlives the process: serialising a big room each sync is waste). */
  saveRooms?: boolean;
  /** How each room is saved now (./snapshots.ts): whether the next write is a delta or a new base. */
  snapshots?: ReadonlyMap<string, SnapshotInfo>;
}

export interface SyncPlan {
  rooms: Map<string, RoomState>;
  /** Room snapshots (undefined deletes) and the new token, for one atomic Store write. */
  entries: Record<string, string | undefined>;
  changes: StateChange[];
  joined: string[];
  left: string[];
  invited: { roomId: string; inviter: string | undefined }[];
  /** Did any room carry state_after? */
  sawStateAfter: boolean;
  modes: Map<string, SyncMode>;
  /** Classic path: state keys whose timeline event forked off an older parent (ask the server). */
  uncertain: Array<{ roomId: string; type: string; stateKey: string }>;
  /** Classic path: rooms whose timeline had a gap, so the response may miss state (ask the server). */
  gaps: string[];
  /** Each room's snapshot info once `entries` are written. */
  snapshots: Map<string, SnapshotInfo>;
  /** Rooms written whole or dropped: their older deltas are deleted in the same write. */
  rewritten: string[];
}

/** Add the entries that save `room` after `changes` to the plan. */
export function saveRoom(plan: SyncPlan, room: RoomState, changes: StateChange[] | "whole"): void {
  const saved = snapshotEntries(room, changes, plan.snapshots.get(room.roomId));
  Object.assign(plan.entries, saved.entries);
  plan.snapshots.set(room.roomId, saved.info);
  if (saved.whole) plan.rewritten.push(room.roomId);
}

function dropRoom(plan: SyncPlan, roomId: string): void {
  plan.entries[STORE_KEYS.room(roomId)] = undefined;
  plan.snapshots.delete(roomId);
  plan.rewritten.push(roomId);
}

export function planSync(current: ReadonlyMap<string, RoomState>, response: SyncResponse, options: ApplyOptions): SyncPlan {
  const rooms = new Map(current);
  const plan: SyncPlan = { rooms, entries: {}, changes: [], joined: [], left: [], invited: [], sawStateAfter: false, modes: new Map(), uncertain: [], gaps: [], snapshots: new Map(options.snapshots), rewritten: [] };
  const join = response.rooms?.join ?? {};
  const sections = Object.entries(join) as [string, JoinedRoomSync][];
  plan.sawStateAfter = sections.some(([, s]) => stateAfterEvents(s) !== undefined);

  // 1. Rooms we left (or were kicked or banned from): drop them. A room also listed under `join`
  //    was left and joined again within this batch; the join section below wins.
  for (const roomId of Object.keys(response.rooms?.leave ?? {})) {
    if (roomId in join || !rooms.has(roomId)) continue;
    rooms.delete(roomId);
    dropRoom(plan, roomId);
    plan.left.push(roomId);
  }
  // 2. An initial sync lists every room we are in: any other room we held is one we are no longer in.
  if (options.initial) {
    for (const roomId of [...rooms.keys()]) {
      if (roomId in join) continue;
      rooms.delete(roomId);
      dropRoom(plan, roomId);
      plan.left.push(roomId);
    }
  }
  // 3. Joined rooms: reduce each section onto its state. A room new to us comes with its whole state.
  for (const [roomId, section] of sections) {
    const before = rooms.get(roomId);
    const result = reduceJoinedRoom(before, roomId, section, {
      wholesale: options.initial || before === undefined,
      stateAfterExpected: options.stateAfterExpected || plan.sawStateAfter,
    });
    plan.modes.set(roomId, result.mode);
    for (const u of result.uncertain) plan.uncertain.push({ roomId, ...u });
    if (result.gap) plan.gaps.push(roomId);
    if (!before) plan.joined.push(roomId);
    if (before && result.changes.length === 0) continue;
    rooms.set(roomId, result.state);
    const whole = options.initial || before === undefined;
    if (options.saveRooms !== false) saveRoom(plan, result.state, whole ? "whole" : result.changes);
    plan.changes.push(...result.changes);
  }
  // 4. Invites: who invited us is the sender of our own m.room.member in invite_state.
  for (const [roomId, invite] of Object.entries(response.rooms?.invite ?? {})) {
    if (rooms.has(roomId)) continue;
    const own = (invite.invite_state?.events ?? []).find((e) => e.type === "m.room.member" && e.state_key === options.userId);
    plan.invited.push({ roomId, inviter: typeof own?.sender === "string" ? own.sender : undefined });
  }
  // 5. The token goes in the same write as the state it carries, and with the list of rooms whose
  //    snapshots it needs (./load.ts checks them against each other).
  plan.entries[STORE_KEYS.nextBatch] = response.next_batch;
  if (options.saveRooms !== false) plan.entries[STORE_KEYS.roomList] = JSON.stringify([...rooms.keys()].sort());
  return plan;
}
