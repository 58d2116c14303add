/**
 * The history of one state key as the homeserver reports it: each state event names the event it
 * replaced (`unsigned.replaces_state`, the state for its key at its `prev_events`). Following that
 * link backwards from the current event tells whether it was built on one of our writes (then its
 * author's server-side picture held our op) or on a fork that never saw it. docs/DURABILITY.md.
 *
 * Events come from sync timelines for free; the rest are fetched one by one
 * (`GET /rooms/{roomId}/event/{eventId}`, which gives `replaces_state` but not `prev_content`).
 */
import { jsonEqual } from "./format.js";

export interface LineageEvent {
  eventId: string;
  /** The event this one replaced; undefined when there was none. */
  replaces: string | undefined;
  content: Record<string, unknown>;
  /** origin_server_ts: one homeserver stamps an event after the events it was built on. */
  ts: number;
  sender?: string;
  /** Redacted (`unsigned.redacted_because`): its content is gone. */
  redacted?: true;
  /** The event's type and state key, when it came with them. */
  type?: string;
  stateKey?: string;
}

/** Walks longer than this are taken as "not built on it" (durability errs towards writing again). */
const MAX_STEPS = 500;
/** How far back a stale writer's picture is looked for: this many events and one more, below the replaced one. */
export const STALE_DEPTH = 6;

const has = (o: Record<string, unknown>, k: string) => Object.prototype.hasOwnProperty.call(o, k);
function sameValue(a: Record<string, unknown>, b: Record<string, unknown>, k: string): boolean {
  return has(a, k) === has(b, k) && jsonEqual(a[k], b[k]);
}
/** The keys whose value differs between two contents (present in one only, or different). */
export function differing(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => !sameValue(a, b, k));
}

/**
 * The keys `content` set back to an older event's value (./Lineage.staleKeys). `ancestors` are the
 * contents of the event it replaced, then of up to STALE_DEPTH + 1 older events, newest first, ending
 * with `{}` when the chain began within them. Pure: the writer's repairs and the history's marks
 * (docs/HISTORY.md "Repairs") judge by the same rule.
 */
export function staleKeysAgainst(content: Record<string, unknown>, ancestors: readonly Record<string, unknown>[]): Set<string> {
  const [replaced, ...older] = ancestors;
  if (!replaced) return new Set();
  const nearest = differing(content, replaced);
  let best: { content: Record<string, unknown>; count: number } | undefined;
  for (const o of older) {
    const count = differing(content, o).length;
    if (count >= 1 && count < nearest.length && (!best || count < best.count)) best = { content: o, count };
  }
  if (!best) return new Set();
  const base = best.content;
  return new Set(nearest.filter((k) => sameValue(content, base, k)));
}

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

  /**
   * The keys `e` set back to an older event's value: a writer whose picture was behind built `e`
   * on that older event, and these "changes" are what it had not seen, not changes it meant.
   * The older event is believed only when `e` differs from it in fewer keys (at least one: the
   * writer's own ops) than from the event it replaced; so a deliberate single change, even back to
   * an old value, is never taken for one.
   */
  async staleKeys(e: LineageEvent): Promise<Set<string>> {
    if (e.replaces === undefined) return new Set();
    const replaced = await this.get(e.replaces);
    if (!replaced) return new Set();
    const ancestors = [replaced.content];
    let id: string | undefined = replaced.replaces;
    for (let steps = 0; steps <= STALE_DEPTH; steps++) {
      const older = id === undefined ? { content: {}, replaces: undefined } : await this.get(id);
      if (!older) break;
      ancestors.push(older.content);
      if (id === undefined) break;
      id = older.replaces;
    }
    return staleKeysAgainst(e.content, ancestors);
  }

  /** How many events are known. */
  get size(): number {
    return this.known.size;
  }

  /** Forget everything (nothing left to check). */
  clear(): void {
    this.known.clear();
  }
}

/** A client-format event (sync timeline or GET event) as a lineage entry, if it has the fields. */
export function lineageEvent(raw: unknown): LineageEvent | undefined {
  if (typeof raw !== "object" || raw === null) return undefined;
  const e = raw as { event_id?: unknown; type?: unknown; state_key?: unknown; content?: unknown; origin_server_ts?: unknown; sender?: unknown; unsigned?: { replaces_state?: unknown; redacted_because?: unknown }; replaces_state?: unknown };
  if (typeof e.event_id !== "string" || typeof e.origin_server_ts !== "number") return undefined;
  const content = typeof e.content === "object" && e.content !== null && !Array.isArray(e.content) ? (e.content as Record<string, unknown>) : {};
  const replaces = typeof e.unsigned?.replaces_state === "string" ? e.unsigned.replaces_state : typeof e.replaces_state === "string" ? e.replaces_state : undefined;
  return {
    eventId: e.event_id,
    replaces,
    content,
    ts: e.origin_server_ts,
    ...(typeof e.sender === "string" ? { sender: e.sender } : {}),
    ...(e.unsigned?.redacted_because !== undefined ? { redacted: true as const } : {}),
    ...(typeof e.type === "string" ? { type: e.type } : {}),
    ...(typeof e.state_key === "string" ? { stateKey: e.state_key } : {}),
  };
}
