/**
 * The requests a room's memory makes, bound to one room, and the RoomMemory built on them: the
 * writer's PUTs and checks (./room-memory.ts, ./writer.ts) and the history walk (./history.ts) share
 * one definition of each.
 */
import type PQueue from "p-queue";
import type { HttpClient } from "../http/client.js";
import { getEvent } from "../http/endpoints/events/get-event.js";
import { redact } from "../http/endpoints/events/redact.js";
import { getAllState } from "../http/endpoints/state/get-all-state.js";
import { getStateEvent } from "../http/endpoints/state/get-state.js";
import { putState } from "../http/endpoints/state/put-state.js";
import { macrotask } from "../http/runtime.js";
import type { Clock } from "../http/types.js";
import type { SyncLoop } from "../sync/sync-loop.js";
import { EVENT_TYPE, type SingleStateKey } from "./format.js";
import { lineageEvent, type LineageEvent } from "./lineage.js";
import type { ResolvedOptions } from "./options.js";
import { RoomMemory } from "./room-memory.js";
import { DEFAULT_SETTLE_MS, notFoundAsUndefined, retryPolicy, writeRetryDelay } from "./write-retry.js";

export interface RoomRequests {
  /** The current event of a state key (undefined: none). */
  currentEvent(stateKey: string): Promise<LineageEvent | undefined>;
  /** An event of the room by ID (undefined: not found). */
  event(eventId: string): Promise<LineageEvent | undefined>;
}

export function roomRequests(http: HttpClient, roomId: string): RoomRequests {
  return {
    currentEvent: (stateKey) => notFoundAsUndefined(async () => lineageEvent(await http.send(getStateEvent, { roomId, eventType: EVENT_TYPE, stateKey }))),
    event: (eventId) => notFoundAsUndefined(async () => lineageEvent(await http.send(getEvent, { roomId, eventId }))),
  };
}

export interface RoomDeps {
  queue: PQueue;
  userId: string;
  singleStateKey: SingleStateKey;
  sync: SyncLoop;
  http: HttpClient;
  opts: ResolvedOptions;
  clock: Clock;
}

export function newRoomMemory(roomId: string, d: RoomDeps): RoomMemory {
  const requests = roomRequests(d.http, roomId);
  return new RoomMemory(roomId, {
    queue: d.queue,
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
