/**
 * Repairs as what they are (docs/HISTORY.md "Repairs"), judged from a state key's chain of events
 * alone. A change of a key is *stale* when its event set the key back to what an older event held
 * and differs from that older event in fewer keys than from the event it replaced (the writer built
 * on an old picture: ./lineage.ts staleKeysAgainst, the rule the writer's own repairs use). The next
 * change of that key *repairs* it when it puts back exactly what the stale change undid: the key's
 * value (or absence) in the event the stale one replaced. Pure.
 */
import { hasOwn, jsonEqual } from "./format.js";
import { STALE_DEPTH, staleKeysAgainst } from "./lineage.js";

/** Events a stale check needs below the judged one: the replaced event and STALE_DEPTH + 1 older. */
export const STALE_WINDOW = STALE_DEPTH + 2;

/** A key's presence and value in one content. */
export interface Slot {
  had: boolean;
  value: unknown;
}

export const slot = (content: Record<string, unknown>, key: string): Slot => (hasOwn(content, key) ? { had: true, value: content[key] } : { had: false, value: undefined });

/** One change of a key, as the marks need it. */
export interface KeyChange {
  eventId: string;
  /** The key in the event this change replaced: what a repair of it puts back. */
  before: Slot;
  /** The key after this change. */
  after: Slot;
  stale: boolean;
}

/**
 * Is `key` a stale change of `content`? `below` are the contents of the events under it, newest
 * first (at least STALE_WINDOW of them unless `chainEnds`: then the chain began below the last).
 */
export function staleChange(key: string, content: Record<string, unknown>, below: readonly Record<string, unknown>[], chainEnds: boolean): boolean {
  const ancestors = below.slice(0, STALE_WINDOW);
  if (chainEnds && ancestors.length < STALE_WINDOW) ancestors.push({});
  return staleKeysAgainst(content, ancestors).has(key);
}

/** Does `newer` (the next change of the same key) put back what the stale change `older` undid? */
export function repairs(newer: KeyChange, older: KeyChange): boolean {
  return older.stale && newer.after.had === older.before.had && (!newer.after.had || jsonEqual(newer.after.value, older.before.value));
}
