/**
 * Reducers: one joined room's /sync section + the state we held -> the new state and the changes,
 * in order. Pure. See ./README.md for the order of steps and why.
 * Spec: https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3sync (JoinedRoom: state,
 *       state_after, timeline), https://spec.matrix.org/v1.19/client-server-api/#syncing
 */
import { redactionTarget, redactStateEvent } from "./redaction.js";
import { RoomState } from "./room-state.js";
import { isStateEvent, isTimelineEvent, type JoinedRoomSync, type StateChange, type StateEvent, type TimelineEvent } from "./types.js";

export type SyncMode = "classic" | "state_after";

export interface ReduceOptions {
  /**
   * The server sent the room's whole state, not a delta: an initial sync (no `since`) or
   * `full_state=true`. Then state keys the server no longer lists are removed.
   */
  wholesale: boolean;
  /** The server is known to speak state_after, so a room without the field has no state delta. */
  stateAfterExpected?: boolean;
}

export interface ReduceResult {
  /** A new RoomState; the one passed in is not touched. */
  state: RoomState;
  changes: StateChange[];
  mode: SyncMode;
  /**
   * Classic path only: state keys whose timeline event did not replace the event we held (its
   * `unsigned.replaces_state` names another): it forked off an older parent, and the classic
   * response cannot say whether it won state resolution. The caller asks the server.
   */
  uncertain: Array<{ type: string; stateKey: string }>;
  /**
   * Classic path only: the timeline was limited (a gap). `state` is then the state just before the
   * timeline's first event, which holds only that event's ancestors: a state event stored earlier on
   * a concurrent branch is in neither block. The caller asks the server for the room's whole state.
   */
  gap: boolean;
}

/** The room's state_after events under the stable (v1.16) or the unstable MSC4222 name, if present. */
export function stateAfterEvents(section: JoinedRoomSync): unknown[] | undefined {
  const block = section.state_after ?? section["org.matrix.msc4222.state_after"];
  return block ? (block.events ?? []) : undefined;
}

export function reduceJoinedRoom(current: RoomState | undefined, roomId: string, section: JoinedRoomSync, options: ReduceOptions): ReduceResult {
  const work = current ? current.clone() : new RoomState(roomId);
  const timeline = (section.timeline?.events ?? []).filter(isTimelineEvent);
  const after = stateAfterEvents(section) ?? (options.stateAfterExpected ? [] : undefined);
  const mode: SyncMode = after !== undefined ? "state_after" : "classic";
  const changes: StateChange[] = [];
  const push = (c: StateChange | undefined) => {
    if (c) changes.push(c);
  };

  const uncertain = mode === "classic" ? forkedKeys(work, section, timeline) : [];
  // 1. The server's state entries, applied in order. They overwrite what we hold, whatever it is:
  //    an entry naming an older event (a state reset, a revert) is the server's answer, not a conflict.
  const incoming = mode === "state_after" ? stateAfterInOrder(after!.filter(isStateEvent), timeline) : classicInOrder(section, timeline);
  for (const e of incoming) push(work.put(e));

  // 2. Initial sync or full_state: the entries are the whole state; drop what the server no longer has.
  if (options.wholesale) {
    const present = new Set(incoming.map((e) => keyOf(e.type, e.state_key)));
    for (const e of [...work.events()]) if (!present.has(keyOf(e.type, e.state_key))) push(work.remove(e.type, e.state_key));
  }

  // 3. Redactions in the timeline that hit a current state event: prune its content by the room
  //    version's rules (a custom type like dev.opsdroid.database keeps nothing).
  for (const r of timeline) {
    if (r.type !== "m.room.redaction") continue;
    const targetId = redactionTarget(r);
    const target = targetId === undefined ? undefined : work.byId(targetId);
    if (!target || target.unsigned?.redacted_because !== undefined) continue;
    push(work.put(redactStateEvent(target, r, work.roomVersion())));
  }
  return { state: work, changes, mode, uncertain, gap: mode === "classic" && section.timeline?.limited === true };
}

/**
 * Timeline state events that did not replace the event held for their key just before them.
 * Two writes created at once both replace the same parent; the timeline lists both, and the
 * classic algorithm would take the later-stored one as current even when it lost.
 */
function forkedKeys(held: RoomState, section: JoinedRoomSync, timeline: TimelineEvent[]): Array<{ type: string; stateKey: string }> {
  const at = new Map<string, string | undefined>();
  for (const e of (section.state?.events ?? []).filter(isStateEvent)) at.set(keyOf(e.type, e.state_key), e.event_id);
  const out = new Map<string, { type: string; stateKey: string }>();
  for (const e of timeline.filter(isStateEvent)) {
    const key = keyOf(e.type, e.state_key);
    const before = at.has(key) ? at.get(key) : held.get(e.type, e.state_key)?.event_id;
    // No replaces_state: the event replaced nothing (a new key). Without `unsigned` at all the server
    // says nothing either way, and nothing is flagged.
    const replaced = e.unsigned?.replaces_state;
    if (e.unsigned !== undefined && replaced !== before) out.set(key, { type: e.type, stateKey: e.state_key });
    at.set(key, e.event_id);
  }
  return [...out.values()];
}

/**
 * Classic: `state` is the state at the START of the timeline (for a limited timeline, it covers the
 * gap), then the timeline's state events, in order. Only the last event per (type, state_key)
 * counts: the values in between were current only inside this batch. Applying just the last one
 * keeps a re-applied response from flip-flopping a key, and gives watchers the same changes as the
 * state_after path.
 */
function classicInOrder(section: JoinedRoomSync, timeline: TimelineEvent[]): StateEvent[] {
  const all = [...byTime((section.state?.events ?? []).filter(isStateEvent)), ...timeline.filter(isStateEvent)];
  const last = new Map<string, number>();
  all.forEach((e, i) => last.set(keyOf(e.type, e.state_key), i));
  return all.filter((e, i) => last.get(keyOf(e.type, e.state_key)) === i);
}

/**
 * state_after is the state at the END of the timeline and is the only authority: timeline state
 * events are not applied (one may have lost state resolution). For watchers, the entries are put in
 * the order they happened: those from before the timeline (the gap) first, then by timeline position.
 * Several writes to one key within one response therefore show as one change, to the final value
 * (the classic path does the same).
 */
function stateAfterInOrder(after: StateEvent[], timeline: TimelineEvent[]): StateEvent[] {
  const position = new Map<string, number>();
  timeline.forEach((e, i) => position.set(e.event_id, i));
  const inTimeline = after.filter((e) => position.has(e.event_id)).sort((a, b) => position.get(a.event_id)! - position.get(b.event_id)!);
  return [...byTime(after.filter((e) => !position.has(e.event_id))), ...inTimeline];
}

/**
 * Events from before the timeline come in no particular order; origin_server_ts is the best guess
 * at the order they happened (the sort is stable, so equal times keep the server's order).
 */
function byTime(events: StateEvent[]): StateEvent[] {
  return [...events].sort((a, b) => (a.origin_server_ts ?? 0) - (b.origin_server_ts ?? 0));
}

/** A collision-free key for (type, state_key): JSON of the pair, never a joined string. */
function keyOf(type: string, stateKey: string): string {
  return JSON.stringify([type, stateKey]);
}
