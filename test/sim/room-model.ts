/**
 * One room of the simulated homeserver: the event DAG, forward extremities, state resolution and
 * the stream (persistence order). The model, and where it comes from in Synapse 1.163.2, is in
 * docs/SIMULATION.md "Rooms, forks and state resolution".
 */
import type { Prng } from "./prng.js";

/** (type, state_key) as one string: JSON of the pair, never a joined string. */
export const stateKeyOf = (type: string, stateKey: string): string => JSON.stringify([type, stateKey]);

/** (type, state_key) -> event ID. */
export type StateMap = Map<string, string>;

export interface SimEvent {
  event_id: string;
  type: string;
  state_key?: string;
  sender: string;
  content: Record<string, unknown>;
  origin_server_ts: number;
  prev_events: string[];
  /** The state before this event: the resolution of the states after its prev_events. */
  stateBefore: StateMap;
  /** Set when persisted: position in the server-wide stream. */
  stream?: number;
}

/** An event being created: its parents and state are fixed; it is not part of the room yet. */
export interface Creation {
  event: SimEvent;
  /** Synapse's deduplicate_state_event found the same content and sender current: no new event. */
  duplicateOf?: string;
}

export class SimRoom {
  readonly events = new Map<string, SimEvent>();
  /** Persisted events in stream order. */
  readonly stream: SimEvent[] = [];
  /** Current state after each persisted event, by stream position. */
  private readonly currentAt = new Map<number, StateMap>();
  /** Changes of the current state, in stream order (Synapse's current_state_delta_stream). */
  readonly deltas: { stream: number; key: string; eventId: string | undefined }[] = [];
  private extremities = new Set<string>();
  current: StateMap = new Map();

  constructor(
    readonly roomId: string,
    private readonly rng: Prng,
  ) {}

  /**
   * Start creating an event now: prev_events are today's forward extremities, its state-before is
   * their resolved state, origin_server_ts is now (Synapse stamps it when the event is built), and
   * later than its prev_events' stamps: Synapse builds an event on events it has persisted, which
   * takes it more than a millisecond after it stamped them, while the simulated clock only moves at
   * timers. (With equal stamps, state resolution's event ID tie-break let an ancestor win over its
   * own descendant: a reverted value Synapse never produces; simulation seed 40483.)
   */
  begin(init: { type: string; stateKey?: string; sender: string; content: Record<string, unknown>; now: number }): Creation {
    const prev = [...this.extremities].sort();
    const stateBefore = this.resolve(prev.map((id) => this.stateAfter(id)));
    const parentTs = Math.max(-Infinity, ...prev.map((id) => this.events.get(id)!.origin_server_ts));
    const event: SimEvent = {
      event_id: `$${this.rng.id(43)}`,
      type: init.type,
      ...(init.stateKey !== undefined ? { state_key: init.stateKey } : {}),
      sender: init.sender,
      content: init.content,
      origin_server_ts: Math.max(init.now, parentTs + 1),
      prev_events: prev,
      stateBefore,
    };
    if (init.stateKey !== undefined) {
      // handlers/message.py deduplicate_state_event: same sender and canonical content as the
      // state before it -> the existing event is returned and nothing is persisted.
      const prevId = stateBefore.get(stateKeyOf(init.type, init.stateKey));
      const prevEvent = prevId === undefined ? undefined : this.events.get(prevId);
      if (prevEvent && prevEvent.sender === init.sender && canonical(prevEvent.content) === canonical(init.content)) {
        return { event, duplicateOf: prevEvent.event_id };
      }
    }
    return { event };
  }

  /** Persist: it joins the stream; extremities = (old − prev) ∪ {new}; current state re-resolved. */
  persist(c: Creation, streamPos: number): SimEvent {
    const e = c.event;
    e.stream = streamPos;
    this.events.set(e.event_id, e);
    this.stream.push(e);
    for (const p of e.prev_events) this.extremities.delete(p);
    this.extremities.add(e.event_id);
    const before = this.current;
    this.current = this.resolve([...this.extremities].sort().map((id) => this.stateAfter(id)));
    for (const key of new Set([...before.keys(), ...this.current.keys()])) {
      if (before.get(key) !== this.current.get(key)) this.deltas.push({ stream: streamPos, key, eventId: this.current.get(key) });
    }
    this.currentAt.set(streamPos, this.current);
    return e;
  }

  /** The last persisted event at or before a stream position. */
  lastEventAt(pos: number): SimEvent | undefined {
    let last: SimEvent | undefined;
    for (const e of this.stream) {
      if (e.stream! > pos) break;
      last = e;
    }
    return last;
  }

  /**
   * Synapse's get_state_ids_at (storage/controllers/state.py): the state after the last event
   * before the position — not the resolved current state when there were several extremities
   * (its own FIXME says so).
   */
  stateAfterLastEvent(pos: number): StateMap {
    const last = this.lastEventAt(pos);
    return last ? this.stateAfter(last.event_id) : new Map();
  }

  /** The room's current state as of a stream position (before its first event: empty). */
  stateAtStream(pos: number): StateMap {
    let best: StateMap = new Map();
    for (const e of this.stream) {
      if (e.stream! > pos) break;
      best = this.currentAt.get(e.stream!)!;
    }
    return best;
  }

  forwardExtremities(): string[] {
    return [...this.extremities].sort();
  }

  /** The state after an event: its state-before plus itself. */
  stateAfter(eventId: string): StateMap {
    const e = this.events.get(eventId)!;
    if (e.state_key === undefined) return e.stateBefore;
    const out = new Map(e.stateBefore);
    out.set(stateKeyOf(e.type, e.state_key), e.event_id);
    return out;
  }

  /**
   * State resolution v2 (state/v2.py) for events that share one power-levels event and auth chain:
   * unconflicted entries are kept; for a conflicted (type, state_key) the candidates are mainline
   * sorted by (mainline depth, origin_server_ts, event_id) — equal depth here — and applied in
   * order, so the greatest (origin_server_ts, event_id) is left standing.
   */
  resolve(states: StateMap[]): StateMap {
    if (states.length === 0) return new Map();
    if (states.length === 1) return new Map(states[0]);
    const keys = new Set(states.flatMap((s) => [...s.keys()]));
    const out: StateMap = new Map();
    for (const k of keys) {
      const candidates = [...new Set(states.map((s) => s.get(k)).filter((id): id is string => id !== undefined))];
      if (candidates.length === 1) out.set(k, candidates[0]!);
      else if (candidates.length > 1) out.set(k, candidates.reduce((a, b) => (this.later(a, b) ? a : b)));
    }
    return out;
  }

  private later(a: string, b: string): boolean {
    const ea = this.events.get(a)!;
    const eb = this.events.get(b)!;
    if (ea.origin_server_ts !== eb.origin_server_ts) return ea.origin_server_ts > eb.origin_server_ts;
    return a > b;
  }
}

/** Canonical JSON enough for comparing contents: object keys sorted at every level. */
export function canonical(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  const o = value as Record<string, unknown>;
  return `{${Object.keys(o)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
    .join(",")}}`;
}
