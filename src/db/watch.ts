/**
 * Live changes of the memory, from the sync loop's state changes: one `dev.opsdroid.database`
 * event can change many keys (single state key mode), so each event is compared with the one it
 * replaced and every key that differs is reported.
 */
import type { StateChange } from "../state/types.js";
import { EVENT_TYPE, hasOwn, jsonEqual } from "./format.js";

export interface MemoryChange {
  /** The room ID. */
  room: string;
  key: string;
  /** The new value; undefined when the key was deleted. Encrypted values are decrypted. */
  value: unknown;
  /** Who wrote it (our own user ID for our writes). */
  sender: string;
  /** The state event that carried the change. */
  eventId: string;
}

/** The raw per-key differences of one state change (values may still be encrypted references). */
export function keyChanges(change: StateChange): Array<{ key: string; value: unknown; deleted: boolean }> {
  if (change.type !== EVENT_TYPE || change.event === undefined) return [];
  const before = change.previous?.content ?? {};
  const after = change.event.content;
  const out: Array<{ key: string; value: unknown; deleted: boolean }> = [];
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const had = hasOwn(before, key);
    const has = hasOwn(after, key);
    if (has && had && jsonEqual(before[key], after[key])) continue;
    out.push(has ? { key, value: after[key], deleted: false } : { key, value: undefined, deleted: true });
  }
  return out;
}
