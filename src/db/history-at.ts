/**
 * Reads as of a point without walking the whole chain (docs/HISTORY.md "Reads as of a time"): the
 * room's event at or before a time (`/timestamp_to_event`), then the room's state just after that
 * event (`/context` with a state filter), where the key's state event in force then is. Where the
 * source cannot do that (many state keys, one event each), the key's own chain is walked (./history.ts).
 */
import { hasOwn } from "./format.js";
import { keyHistory, type HistorySource, type KeyVersion } from "./history.js";

/** A key's value at a point: `present` false when it did not exist then. */
export interface ValueAt {
  present: boolean;
  value: unknown;
}

const ABSENT: ValueAt = { present: false, value: undefined };
const toTs = (at: Date | number) => (at instanceof Date ? at.getTime() : at);

/**
 * The value in force at `at`: a time (the newest version at or before it), or an event ID (the state
 * just after that event: a version's own ID gives that version).
 */
export async function valueAt(key: string, source: HistorySource, at: string | Date | number, eventTs: (eventId: string) => Promise<number | undefined>): Promise<ValueAt> {
  if (source.stateAt && source.eventBefore) {
    const eventId = typeof at === "string" ? at : await source.eventBefore(toTs(at));
    if (eventId === undefined) return ABSENT;
    const state = await source.stateAt(eventId);
    if (!state) return ABSENT;
    const stored = state.current ? state.current.content : state.legacy && !state.legacy.redacted ? source.legacy?.asCurrent(state.legacy.content) : undefined;
    if (stored) return hasOwn(stored, key) ? { present: true, value: await source.reveal(stored[key]) } : ABSENT;
    if (!state.legacy) return ABSENT;
    // The legacy event the migration copied and redacted: its value is the copy's, which the walk finds.
  }
  const v = await versionAt(key, source, at, eventTs);
  return v && !v.deleted ? { present: true, value: v.value } : ABSENT;
}

/**
 * The version in force at `at`: a time, or an event ID (of one of the key's versions, or any event
 * of the room, whose time `eventTs` gives). Undefined when the key did not exist then.
 */
export async function versionAt(key: string, source: HistorySource, at: string | Date | number, eventTs: (eventId: string) => Promise<number | undefined>): Promise<KeyVersion | undefined> {
  let atTs: number | undefined = at instanceof Date ? at.getTime() : typeof at === "number" ? at : undefined;
  for await (const v of keyHistory(key, source)) {
    if (typeof at === "string" && v.eventId === at) return v;
    if (atTs === undefined && typeof at === "string") {
      atTs = await eventTs(at);
      if (atTs === undefined) return undefined;
    }
    if (v.ts <= atTs!) return v;
  }
  return undefined;
}
