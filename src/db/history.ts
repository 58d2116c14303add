/**
 * Every version of a key, newest first (docs/HISTORY.md). A room keeps each state event, and each
 * names the one it replaced (`unsigned.replaces_state`), so the versions of a state key are found by
 * walking that chain back from the current event, one `GET /rooms/{roomId}/event/{eventId}` per
 * step, holding one event at a time. With a shared state key (singleStateKey true or a string) an
 * event holds every key, and a version of *this* key is an event where its value differs from the
 * event before it; a version where the key is gone is a delete. Below the first `dev.opsdroid.database`
 * event the walk goes on through opsdroid's legacy `opsdroid.database` events of the same state key
 * (docs/OPSDROID.md "Legacy migration"), read as the migration reads them.
 */
import { jsonEqual } from "./format.js";
import { repairs, slot, STALE_WINDOW, staleChange, type KeyChange } from "./repair-marks.js";
import type { LineageEvent } from "./lineage.js";

export interface KeyVersion {
  /** The value from this version on (undefined for a delete); decrypted and downloaded as `get` does. */
  value: unknown;
  sender: string;
  /** origin_server_ts of the event, in ms since the epoch. */
  ts: number;
  eventId: string;
  /** Present, true, when this version removed the key. */
  deleted?: true;
  /** Present, true, for a version in a legacy `opsdroid.database` event (older than the migration). */
  legacy?: true;
  /**
   * Present, true, when this version was a lost update: its writer built on an old picture and set the
   * key back to an older value, or dropped it (docs/HISTORY.md "Repairs").
   */
  stale?: true;
  /** The event of the version that undid this stale one: it put back the value this one dropped. */
  repairedBy?: string;
  /** This version is a repair: it put back the value that this event (a stale version) had dropped. */
  repairOf?: string;
}

export interface HistoryOptions {
  /** Stop after this many versions. */
  limit?: number;
  /** Only versions older than this: an event ID of one of the key's versions, or a time. */
  before?: string | Date | number;
}

export interface HistorySource {
  /** The current event of the key's state key; undefined when there is none. */
  current(): Promise<LineageEvent | undefined>;
  /** An event of that state key by ID. */
  event(eventId: string): Promise<LineageEvent | undefined>;
  /** What a stored value stands for (an encrypted or media reference resolved); errors are returned as values. */
  reveal(stored: unknown): Promise<unknown>;
  /**
   * Where the room can answer cheaply (a shared state key, or few keys): the key's state events in
   * force just after an event (the room's state there, one request; undefined when the event is not
   * found), and the room's event at or before a time (undefined: none). ./history-at.ts.
   */
  stateAt?(eventId: string): Promise<{ current?: LineageEvent; legacy?: LineageEvent } | undefined>;
  eventBefore?(ts: number): Promise<string | undefined>;
  /** The current legacy `opsdroid.database` event of the same state key, and its content as the migration copies it. */
  legacy?: { current(): Promise<LineageEvent | undefined>; asCurrent(content: Record<string, unknown>): Record<string, unknown> };
}

/** An event of the key's chain, its content read as `dev.opsdroid.database` content. */
export interface ChainEvent extends LineageEvent {
  legacy?: true;
}

/** Walks longer than this end the history (a key rewritten more often is paged with `before`). */
const MAX_EVENTS = 100_000;

/** The events of one state key, newest first: `first`, then each event it replaced, fetched one at a time. */
export async function* stateChain(first: LineageEvent | undefined, event: (eventId: string) => Promise<LineageEvent | undefined>): AsyncGenerator<LineageEvent, void, undefined> {
  let e = first;
  for (let steps = 0; e && steps < MAX_EVENTS; steps++) {
    yield e;
    e = e.replaces === undefined ? undefined : await event(e.replaces);
  }
}

/**
 * The key's state events newest first: the `dev.opsdroid.database` chain, then the legacy chain
 * below it. The legacy event the migration copied was redacted by it; its content is the copy's,
 * the oldest `dev.opsdroid.database` event.
 */
export async function* keyChain(source: HistorySource, start?: LineageEvent): AsyncGenerator<ChainEvent, void, undefined> {
  let oldest: LineageEvent | undefined;
  for await (const e of stateChain(start ?? (await source.current()), (id) => source.event(id))) {
    oldest = e;
    yield e;
  }
  if (!source.legacy) return;
  const { asCurrent } = source.legacy;
  let head = true;
  for await (const e of stateChain(await source.legacy.current(), (id) => source.event(id))) {
    const content = head && e.redacted && oldest ? oldest.content : asCurrent(e.content);
    head = false;
    yield { ...e, content, legacy: true };
  }
}

export async function* keyHistory(key: string, source: HistorySource, options: HistoryOptions = {}): AsyncGenerator<KeyVersion, void, undefined> {
  const limit = options.limit ?? Infinity;
  if (limit <= 0) return;
  const beforeTs = options.before instanceof Date ? options.before.getTime() : typeof options.before === "number" ? options.before : undefined;
  const beforeId = typeof options.before === "string" ? options.before : undefined;
  let skipping = beforeId !== undefined;
  let yielded = 0;
  // Events newest first: the one being judged, and the few below it a stale check reads (bounded).
  const chain = keyChain(source, await pageStart(source, options.before));
  const window: ChainEvent[] = [];
  let ended = false;
  // The newest change found and not handed out yet: whether it was a repair needs the next older change.
  let held: Held | undefined;
  try {
    for (;;) {
      while (!ended && window.length <= STALE_WINDOW) {
        const r = await chain.next();
        if (r.done) ended = true;
        else window.push(r.value);
      }
      const e = window.shift();
      if (!e) break;
      const older = window[0];
      const before = older ? slot(older.content, key) : slot({}, key);
      const after = slot(e.content, key);
      const changed = after.had !== before.had || (after.had && !jsonEqual(after.value, before.value));
      const wanted = changed && !skipping && (beforeTs === undefined || e.ts < beforeTs);
      if (e.eventId === beforeId) skipping = false;
      if (!changed) continue;
      const stale = older !== undefined && staleChange(key, e.content, window.map((w) => w.content), ended);
      const next: Held = { change: { eventId: e.eventId, before, after, stale }, event: e, wanted };
      if (held) {
        if (repairs(held.change, next.change)) {
          held.repairOf = e.eventId;
          next.repairedBy = held.event.eventId;
        }
        const v = await version(held, source);
        if (v) {
          yield v;
          if (++yielded >= limit) return;
        }
      }
      held = next;
    }
    const last = held && (await version(held, source));
    if (last) yield last;
  } finally {
    await chain.return(undefined);
  }
}

interface Held {
  change: KeyChange;
  event: ChainEvent;
  wanted: boolean;
  repairOf?: string;
  repairedBy?: string;
}

async function version(h: Held, source: HistorySource): Promise<KeyVersion | undefined> {
  if (!h.wanted) return undefined;
  const e = h.event;
  const { had, value } = h.change.after;
  return {
    value: had ? await source.reveal(value) : undefined,
    sender: e.sender ?? "",
    ts: e.ts,
    eventId: e.eventId,
    ...(had ? {} : { deleted: true as const }),
    ...(e.legacy ? { legacy: true as const } : {}),
    ...(h.change.stale ? { stale: true as const } : {}),
    ...(h.repairedBy !== undefined ? { repairedBy: h.repairedBy } : {}),
    ...(h.repairOf !== undefined ? { repairOf: h.repairOf } : {}),
  };
}

/**
 * Where a page of history can start instead of the current event: the version named by `before`
 * (an event of the key's state key), or the key's state event in force just before a time.
 * Undefined: start at the current event.
 */
export async function pageStart(source: HistorySource, before: string | Date | number | undefined): Promise<LineageEvent | undefined> {
  if (before === undefined) return undefined;
  if (typeof before === "string") {
    const e = await source.event(before);
    const head = await source.current();
    // Only an event of this state key's chain (same type and state key as the current one).
    return e && head && e.type === head.type && e.stateKey === head.stateKey ? e : undefined;
  }
  if (!source.stateAt || !source.eventBefore) return undefined;
  const eventId = await source.eventBefore((before instanceof Date ? before.getTime() : before) - 1);
  const held = eventId === undefined ? undefined : (await source.stateAt(eventId))?.current;
  // The room's state may come without `replaces_state`, which the walk needs: then fetched by ID.
  return held && (held.replaces !== undefined ? held : await source.event(held.eventId));
}
