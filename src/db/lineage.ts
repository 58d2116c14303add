/**
 * The history of one state key as the homeserver reports it: each state event names the event it
 * replaced (`unsigned.replaces_state`, the state for its key at its `prev_events`). Following that
 * link backwards from the current event tells whether it was built on one of our writes (then its
 * author's server-side picture held our op) or on a fork that never saw it. docs/DURABILITY.md.
 *
 * Events come from sync timelines for free; the rest are fetched one by one
 * (`GET /rooms/{roomId}/event/{eventId}`, which gives `replaces_state` but not `prev_content`).
 */

export interface LineageEvent {
  eventId: string;
  /** The event this one replaced; undefined when there was none. */
  replaces: string | undefined;
  content: Record<string, unknown>;
  /** origin_server_ts: one homeserver stamps an event after the events it was built on. */
  ts: number;
  sender?: string;
}

/** Walks longer than this are taken as "not built on it" (durability errs towards writing again). */
const MAX_STEPS = 500;

export class Lineage {
  private readonly known = new Map<string, LineageEvent>();

  constructor(private readonly load: (eventId: string) => Promise<LineageEvent | undefined>) {}

  remember(e: LineageEvent): void {
    this.known.set(e.eventId, e);
  }

  /** The event, from what we have seen or from the homeserver; undefined when it cannot be had. */
  async get(eventId: string): Promise<LineageEvent | undefined> {
    const hit = this.known.get(eventId);
    if (hit) return hit;
    const e = await this.load(eventId);
    if (e) this.known.set(eventId, e);
    return e;
  }

  /**
   * Is `from` the event `target` or built (through replaced events) on it? Stops at the first
   * event older than `target`: its ancestors are older still.
   */
  async descends(from: string, target: LineageEvent): Promise<boolean> {
    let id: string | undefined = from;
    for (let steps = 0; id !== undefined && steps < MAX_STEPS; steps++) {
      if (id === target.eventId) return true;
      const e = await this.get(id);
      if (!e || e.ts < target.ts) return false;
      id = e.replaces;
    }
    return false;
  }

  /**
   * Walk back from `from` to the first event older than `since`: the first one `match` accepts.
   * Used to find a write of ours whose answer was lost.
   */
  async find(from: string | undefined, sinceTs: number, match: (e: LineageEvent) => boolean): Promise<LineageEvent | undefined> {
    let id = from;
    for (let steps = 0; id !== undefined && steps < MAX_STEPS; steps++) {
      const e = await this.get(id);
      if (!e || e.ts < sinceTs) return undefined;
      if (match(e)) return e;
      id = e.replaces;
    }
    return undefined;
  }

  /** Forget everything (nothing left to check). */
  clear(): void {
    this.known.clear();
  }
}

/** A client-format event (sync timeline or GET event) as a lineage entry, if it has the fields. */
export function lineageEvent(raw: unknown): LineageEvent | undefined {
  if (typeof raw !== "object" || raw === null) return undefined;
  const e = raw as { event_id?: unknown; content?: unknown; origin_server_ts?: unknown; sender?: unknown; unsigned?: { replaces_state?: unknown }; replaces_state?: unknown };
  if (typeof e.event_id !== "string" || typeof e.origin_server_ts !== "number") return undefined;
  const content = typeof e.content === "object" && e.content !== null && !Array.isArray(e.content) ? (e.content as Record<string, unknown>) : {};
  const replaces = typeof e.unsigned?.replaces_state === "string" ? e.unsigned.replaces_state : typeof e.replaces_state === "string" ? e.replaces_state : undefined;
  return { eventId: e.event_id, replaces, content, ts: e.origin_server_ts, ...(typeof e.sender === "string" ? { sender: e.sender } : {}) };
}
