/**
 * The requests a room's memory makes, bound to one room, and the RoomMemory built on them: the
 * writer's PUTs and checks (./room-memory.ts, ./writer.ts) and the history walk (./history.ts) share
 * one definition of each.
 */
import type PQueue from "p-queue";
import type { HttpClient } from "../http/client.js";
import { context } from "../http/endpoints/events/context.js";
import { getEvent } from "../http/endpoints/events/get-event.js";
import { messages } from "../http/endpoints/events/messages.js";
import { timestampToEvent } from "../http/endpoints/events/timestamp-to-event.js";
import { redact } from "../http/endpoints/events/redact.js";
import { getAllState } from "../http/endpoints/state/get-all-state.js";
import { getStateEvent } from "../http/endpoints/state/get-state.js";
import { putState } from "../http/endpoints/state/put-state.js";
import { macrotask } from "../http/runtime.js";
import type { Clock } from "../http/types.js";
import type { SyncLoop } from "../sync/sync-loop.js";
import { EVENT_TYPE, LEGACY_EVENT_TYPE, legacyAsCurrent, sharesOneEvent, stateKeyFor, type SingleStateKey } from "./format.js";
import type { HistorySource } from "./history.js";
import { PAGE_EVENTS, pagedLookup, type PagedSource } from "./paged-events.js";
import { lineageEvent, type LineageEvent } from "./lineage.js";
import type { ResolvedOptions } from "./options.js";
import { RoomMemory } from "./room-memory.js";
import { DEFAULT_ROOM_WRITE_CONCURRENCY, roomWriteQueue } from "./room-write-queue.js";
import { linearReplacesState, noteServerEvent, serverOf } from "./server-kind.js";
import { DEFAULT_SETTLE_MS, notFoundAsUndefined, retryPolicy, writeRetryDelay } from "./write-retry.js";

export interface RoomRequests {
  /** The current event of a state key (undefined: none); of `dev.opsdroid.database` unless another type is given. */
  currentEvent(stateKey: string, eventType?: string): Promise<LineageEvent | undefined>;
  /** An event of the room by ID (undefined: not found). */
  event(eventId: string): Promise<LineageEvent | undefined>;
  /** The room's event at or before a time (undefined: none). */
  eventBefore(ts: number): Promise<string | undefined>;
  /** The memory's state events (both types) just after an event (undefined: event not found). */
  stateAt(eventId: string): Promise<LineageEvent[] | undefined>;
  /** Reads `dev.opsdroid.database` events a page at a time (./paged-events.ts). */
  paged: PagedSource;
}

/**
 * `completeBare`: a current event served without `unsigned` (Dendrite's `?format=event`) says nothing
 * of what it replaced, and would read as "replaced nothing": it is read again by ID, whose answer
 * carries `replaces_state`. Not with an injected transport: simulated servers omit `unsigned` on an
 * event that replaced nothing, and an extra request would change their seeded schedules.
 */
export function roomRequests(http: HttpClient, roomId: string, options: { completeBare?: boolean; userId?: string } = {}): RoomRequests {
  // The events are noted: how our server's own events look tells Dendrite apart (./server-kind.ts).
  const local = options.userId === undefined ? undefined : serverOf(options.userId);
  const event = (eventId: string) => notFoundAsUndefined(async () => lineageEvent(noteServerEvent(http, await http.send(getEvent, { roomId, eventId }), local)));
  return {
    currentEvent: (stateKey, eventType = EVENT_TYPE) =>
      notFoundAsUndefined(async () => {
        const raw = noteServerEvent(http, await http.send(getStateEvent, { roomId, eventType, stateKey }), local);
        return options.completeBare && raw.unsigned === undefined ? ((await event(raw.event_id)) ?? lineageEvent(raw)) : lineageEvent(raw);
      }),
    event,
    eventBefore: (ts) => notFoundAsUndefined(async () => (await http.send(timestampToEvent, { roomId, ts, dir: "b" })).event_id),
    stateAt: (eventId) =>
      notFoundAsUndefined(async () => {
        const { state } = await http.send(context, { roomId, eventId, limit: 0, filter: { types: [EVENT_TYPE, LEGACY_EVENT_TYPE] } });
        return (state ?? []).flatMap((raw) => lineageEvent(raw) ?? []);
      }),
    paged: {
      event: (eventId) => notFoundAsUndefined(async () => lineageEvent(await http.send(getEvent, { roomId, eventId }))),
      context: (eventId) =>
        notFoundAsUndefined(async () => {
          const c = await http.send(context, { roomId, eventId, limit: 0, filter: { types: [EVENT_TYPE] } });
          const event = lineageEvent(c.event);
          return event && { event, before: c.start };
        }),
      page: async (from) => {
        const r = await http.send(messages, { roomId, dir: "b", from, limit: PAGE_EVENTS, filter: { types: [EVENT_TYPE] } });
        return { events: r.chunk.flatMap((raw) => lineageEvent(raw) ?? []), next: r.chunk.length === 0 ? undefined : r.end };
      },
    },
  };
}

/**
 * Up to this many state keys of the memory, the room's state at an event is read whole (`/context`,
 * one request of about as many events) to read as of a point; with more, each key has its own state
 * key and its own short chain, which is walked instead.
 */
const STATE_AT_MAX_KEYS = 1000;

/** Where the history of `key` is read (./history.ts): its state key's chain, then the legacy one below it. */
export function historySource(requests: RoomRequests, mode: SingleStateKey, key: string, reveal: (stored: unknown) => Promise<unknown>, stateKeys: number): HistorySource {
  const stateKey = stateKeyFor(mode, key);
  const pick = (events: LineageEvent[], type: string) => events.find((e) => e.type === type && e.stateKey === stateKey);
  const cheap = sharesOneEvent(mode) || stateKeys <= STATE_AT_MAX_KEYS;
  return {
    ...(cheap
      ? {
          eventBefore: requests.eventBefore,
          stateAt: async (eventId: string) => {
            const events = await requests.stateAt(eventId);
            if (!events) return undefined;
            const current = pick(events, EVENT_TYPE);
            const legacy = pick(events, LEGACY_EVENT_TYPE);
            return { ...(current ? { current } : {}), ...(legacy ? { legacy } : {}) };
          },
        }
      : {}),
    current: () => requests.currentEvent(stateKey),
    // A shared state key's chain is most of the type's timeline: read it a page at a time.
    event: sharesOneEvent(mode) ? pagedLookup(requests.paged) : requests.event,
    reveal,
    legacy: { current: () => requests.currentEvent(stateKey, LEGACY_EVENT_TYPE), asCurrent: (content) => legacyAsCurrent(mode, stateKey, content) },
  };
}

export interface RoomDeps {
  /** The memory's shared queue (`writeConcurrency`). */
  queue: PQueue;
  userId: string;
  singleStateKey: SingleStateKey;
  sync: SyncLoop;
  http: HttpClient;
  opts: ResolvedOptions;
  clock: Clock;
}

export function newRoomMemory(roomId: string, d: RoomDeps): RoomMemory {
  const requests = roomRequests(d.http, roomId, { completeBare: d.opts.transport === undefined, userId: d.userId });
  return new RoomMemory(roomId, {
    // Per room: concurrent state PUTs into one room fork its DAG (./room-write-queue.ts).
    queue: roomWriteQueue(d.queue, d.opts.roomWriteConcurrency ?? DEFAULT_ROOM_WRITE_CONCURRENCY),
    userId: d.userId,
    singleStateKey: d.singleStateKey,
    state: () => d.sync.room(roomId),
    // One attempt each: the writer rebuilds a failed write on its freshest picture (writer.ts).
    putState: async (stateKey, content) => (await d.http.send(putState, { roomId, eventType: EVENT_TYPE, stateKey, content }, { retry: false })).event_id,
    retryDelay: (e, attempt) => writeRetryDelay(e, attempt, retryPolicy(d.opts)),
    writeTimeoutMs: retryPolicy(d.opts).deadlineMs,
    currentEvent: requests.currentEvent,
    allState: () => d.http.send(getAllState, { roomId }),
    fetchEvent: requests.event,
    // Not with an injected transport (simulations, recorded servers): its extra request would change
    // their seeded schedules. docs/HOMESERVERS.md "Telling Dendrite apart".
    ...(d.opts.transport === undefined ? { linearReplacesState: () => linearReplacesState(d.http) } : {}),
    settleMs: d.opts.settleMs ?? DEFAULT_SETTLE_MS,
    mergeForks: d.opts.mergeForks ?? true,
    sleep: (ms) => d.clock.sleep(ms),
    onError: (e) => d.opts.onError?.(e),
    redact: async (eventId) => {
      await d.http.send(redact, { roomId, eventId, txnId: d.http.txnId() });
    },
    // A macrotask, so puts made in the same turn share one write.
    defer: macrotask,
    now: () => d.clock.now(),
  });
}
