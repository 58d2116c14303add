/**
 * Read the saved picture back: the token, the list of rooms it goes with, and each room's snapshot.
 * A damaged entry (not JSON, wrong shape) is a StoreFormatError naming the key: we do not guess at
 * what a corrupt store meant. A snapshot that is simply missing (a listed room without one, or a
 * store from before the list existed) is a gap: the token is dropped and the loop does a full
 * initial sync, so nothing is ever read or written from the hole. Why: ./README.md "A damaged store".
 */
import { RoomState } from "../state/room-state.js";
import { isStateEvent } from "../state/types.js";
import { StoreFormatError, type Store } from "../store/store.js";
import { deltaPrefix, restoreRoom, type SnapshotInfo } from "./snapshots.js";
import { STORE_KEYS } from "./store-keys.js";

export interface Loaded {
  token: string | undefined;
  rooms: Map<string, RoomState>;
  /** How each room is saved (base and deltas: ./snapshots.ts). */
  snapshots: Map<string, SnapshotInfo>;
  /** Set when a token was found but could not be used: what was missing (for onError). */
  gap?: StoreFormatError;
}

/** `checkList`: snapshots are saved with the token (saveRooms), so the room list must match them. */
export async function loadRooms(store: Store, checkList: boolean): Promise<Loaded> {
  const rooms = new Map<string, RoomState>();
  const snapshots = new Map<string, SnapshotInfo>();
  const token = await store.get(STORE_KEYS.nextBatch);
  // Snapshots without a token cannot be continued from; the initial sync will replace them.
  if (token === undefined) return { token, rooms, snapshots };
  for (const key of await store.keys(STORE_KEYS.roomPrefix)) {
    const raw = await store.get(key);
    if (raw === undefined) continue;
    const base = parseSnapshot(key, raw);
    const deltaFrom = (JSON.parse(raw) as { deltaFrom?: unknown }).deltaFrom ?? 0;
    if (!Number.isInteger(deltaFrom)) throw damaged(key, "has a deltaFrom that is not a whole number");
    const deltas: [string, string][] = [];
    for (const dk of await store.keys(deltaPrefix(base.roomId))) {
      const d = await store.get(dk);
      if (d !== undefined) deltas.push([dk, d]);
    }
    try {
      const { room, info } = restoreRoom(base, deltaFrom as number, deltas, raw.length);
      rooms.set(room.roomId, room);
      snapshots.set(room.roomId, info);
    } catch (cause) {
      throw damaged(key, "has deltas this mxdb cannot apply", cause);
    }
  }
  if (!checkList) return { token, rooms, snapshots };
  const listRaw = await store.get(STORE_KEYS.roomList);
  if (listRaw === undefined) {
    return gap(`the store has a sync token but no list of the rooms it goes with (an older mxdb wrote it): syncing every room again from scratch`);
  }
  const list = parseJson(STORE_KEYS.roomList, listRaw);
  if (!Array.isArray(list) || !list.every((r) => typeof r === "string")) throw damaged(STORE_KEYS.roomList, "is not a list of room IDs");
  const missing = list.filter((r) => !rooms.has(r));
  if (missing.length > 0) return gap(`the store's sync token goes with ${list.length} room snapshot(s) but ${missing.length} are missing (${missing.slice(0, 3).join(", ")}): syncing every room again from scratch`);
  return { token, rooms, snapshots };
}

function gap(message: string): Loaded {
  return { token: undefined, rooms: new Map(), snapshots: new Map(), gap: new StoreFormatError(message, `store key ${STORE_KEYS.nextBatch}`, undefined, { key: STORE_KEYS.nextBatch }) };
}

function parseSnapshot(key: string, raw: string): RoomState {
  const snap = parseJson(key, raw) as { roomId?: unknown; events?: unknown } | null;
  const roomId = key.slice(STORE_KEYS.roomPrefix.length);
  if (typeof snap !== "object" || snap === null || snap.roomId !== roomId) throw damaged(key, `is not the snapshot of room ${roomId}`);
  if (!Array.isArray(snap.events)) throw damaged(key, "has no list of events");
  const bad = snap.events.findIndex((e) => !isStateEvent(e));
  if (bad >= 0) throw damaged(key, `event ${bad} is not a state event`);
  try {
    return RoomState.fromJSON(snap);
  } catch (cause) {
    throw damaged(key, "is not a room state snapshot this mxdb reads", cause);
  }
}

function parseJson(key: string, raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch (cause) {
    throw damaged(key, "is not valid JSON (corrupted?)", cause);
  }
}

function damaged(key: string, what: string, cause?: unknown): StoreFormatError {
  return new StoreFormatError(`the store entry ${what}`, `store key ${key}`, undefined, { key, cause });
}
