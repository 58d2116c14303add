/**
 * The shapes the state layer works on. Pure data: the sync layer validates the wire JSON (zod) and
 * hands these over; nothing here imports src/http.
 * Spec: https://spec.matrix.org/v1.19/client-server-api/#definition-clientevent
 */

/** A state event as /sync delivers it (client format, without room_id). */
export interface StateEvent {
  type: string;
  state_key: string;
  content: Record<string, unknown>;
  event_id: string;
  sender: string;
  origin_server_ts: number;
  unsigned?: { replaces_state?: string; prev_content?: Record<string, unknown>; redacted_because?: unknown; [k: string]: unknown };
}

/** Any timeline event: state events carry `state_key`; redactions carry `redacts`. */
export interface TimelineEvent {
  type: string;
  event_id: string;
  sender: string;
  origin_server_ts: number;
  content: Record<string, unknown>;
  state_key?: string;
  /** The redacted event's ID, top-level up to room v10 (v11 moved it into content). */
  redacts?: string;
  unsigned?: Record<string, unknown>;
}

/** One change to a room's state map, in the order it happened. */
export interface StateChange {
  roomId: string;
  type: string;
  stateKey: string;
  /** The new current event; undefined when the server no longer has this (type, state_key). */
  event: StateEvent | undefined;
  /** What we held before. */
  previous: StateEvent | undefined;
}

/** A room's state, as saved in the Store. `version` lets a future format be told apart. */
export interface RoomStateSnapshot {
  version: 1;
  roomId: string;
  events: StateEvent[];
}

/**
 * A joined room's section of a /sync response, the parts the reducers read.
 * Spec: https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3sync (JoinedRoom)
 */
export interface JoinedRoomSync {
  /** Classic: state between `since` (or nothing) and the START of the timeline. */
  state?: { events?: unknown[] };
  /** MSC4222 / spec v1.16: state between `since` and the END of the timeline; replaces `state`. */
  state_after?: { events?: unknown[] };
  "org.matrix.msc4222.state_after"?: { events?: unknown[] };
  timeline?: { events?: unknown[]; limited?: boolean; prev_batch?: string };
}

/** Is this a well-formed state event? Malformed entries are skipped rather than stalling sync. */
export function isStateEvent(value: unknown): value is StateEvent {
  if (typeof value !== "object" || value === null) return false;
  const e = value as Record<string, unknown>;
  return (
    typeof e.type === "string" &&
    typeof e.state_key === "string" &&
    typeof e.event_id === "string" &&
    typeof e.sender === "string" &&
    typeof e.content === "object" &&
    e.content !== null &&
    !Array.isArray(e.content)
  );
}

export function isTimelineEvent(value: unknown): value is TimelineEvent {
  if (typeof value !== "object" || value === null) return false;
  const e = value as Record<string, unknown>;
  return typeof e.type === "string" && typeof e.event_id === "string" && typeof e.content === "object" && e.content !== null;
}
