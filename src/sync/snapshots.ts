/**
 * How a room's state is saved in the Store so that each sync writes what changed, not the room:
 *
 *   sync/room/<roomId>              the base: a RoomStateSnapshot, plus `deltaFrom`
 *   sync/delta/<roomId>/<seq>       what one sync changed: the new current events, the removed keys
 *
 * A room is read as its base with the deltas numbered `deltaFrom` and up applied in order. Deltas
 * are numbered on per room and never reused, so a base written later (when the deltas outgrow half of
 * it, or the room comes whole) simply starts from a higher number: deltas below it are stale,
 * ignored at load and deleted with the write that makes them stale. No I/O here.
 */
import type { RoomState } from "../state/room-state.js";
import { isStateEvent, type StateChange, type StateEvent } from "../state/types.js";
import { STORE_KEYS } from "./store-keys.js";

export interface SnapshotInfo {
  /** The number the room's next delta gets. */
  next: number;
  /** The first delta that applies to the base in the Store. */
  deltaFrom: number;
  /** Bytes of the live deltas, and of the base: a new base is written when the first passes half the second. */
  deltaBytes: number;
  baseBytes: number;
}

interface Delta {
  events: StateEvent[];
  removed: [string, string][];
}

/** Deltas may add this much before a new base is due, however small the room. */
const MIN_DELTA_BYTES = 64 * 1024;

export const DELTA_PREFIX = "sync/delta/";
export const deltaPrefix = (roomId: string): string => `${DELTA_PREFIX}${roomId}/`;
export const deltaKey = (roomId: string, seq: number): string => `${deltaPrefix(roomId)}${String(seq).padStart(10, "0")}`;
export const deltaSeq = (key: string): number => Number(key.slice(key.lastIndexOf("/") + 1));

/**
 * The Store entries that save `room` after `changes` ("whole": it came whole, or is new to us), and
 * the room's info once they are written.
 */
export function snapshotEntries(room: RoomState, changes: StateChange[] | "whole", info: SnapshotInfo | undefined): { entries: Record<string, string>; info: SnapshotInfo; whole: boolean } {
  const next = info?.next ?? 0;
  if (changes !== "whole" && info) {
    const delta: Delta = { events: [], removed: [] };
    for (const key of new Set(changes.map((c) => JSON.stringify([c.type, c.stateKey])))) {
      const [type, stateKey] = JSON.parse(key) as [string, string];
      const event = room.get(type, stateKey);
      if (event) delta.events.push(event);
      else delta.removed.push([type, stateKey]);
    }
    const json = JSON.stringify(delta);
    if (info.deltaBytes + json.length <= Math.max(MIN_DELTA_BYTES, info.baseBytes / 2)) {
      return { entries: { [deltaKey(room.roomId, next)]: json }, info: { ...info, next: next + 1, deltaBytes: info.deltaBytes + json.length }, whole: false };
    }
  }
  const base = JSON.stringify({ ...room.toJSON(), deltaFrom: next });
  return { entries: { [STORE_KEYS.room(room.roomId)]: base }, info: { next, deltaFrom: next, deltaBytes: 0, baseBytes: base.length }, whole: true };
}

/** A base and its deltas (in key order) back into a RoomState; throws a plain Error naming what is wrong. */
export function restoreRoom(base: RoomState, deltaFrom: number, deltas: [key: string, raw: string][], baseBytes: number): { room: RoomState; info: SnapshotInfo } {
  const room = base;
  let next = deltaFrom;
  let deltaBytes = 0;
  for (const [key, raw] of deltas) {
    const seq = deltaSeq(key);
    if (!Number.isInteger(seq)) throw new Error(`${key} has no delta number`);
    if (seq < deltaFrom) continue;
    // Each delta is written in one atomic write with its token: a missing one means a damaged store.
    if (seq !== next) throw new Error(`delta ${next} of the room is missing (found ${seq})`);
    const d = JSON.parse(raw) as Partial<Delta> | null;
    if (!d || !Array.isArray(d.events) || !Array.isArray(d.removed) || !d.events.every(isStateEvent)) throw new Error(`${key} is not a state delta`);
    for (const e of d.events) room.put(e);
    for (const [type, stateKey] of d.removed) room.remove(type, stateKey);
    next = seq + 1;
    deltaBytes += raw.length;
  }
  return { room, info: { next, deltaFrom, deltaBytes, baseBytes } };
}
