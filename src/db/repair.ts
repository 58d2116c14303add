/**
 * Lost-update repair for state keys shared by several writers (PRODUCT.md "No lost updates").
 *
 * A state PUT replaces the whole content, so a writer that has not seen another's newest write
 * drops that write's changes. The homeserver tells us what each state event replaced
 * (`unsigned.replaces_state`, `unsigned.prev_content`); Synapse creates up to five events of a room
 * at once, so two concurrent writes can even fork from the same parent, and state resolution then
 * keeps one of them. Two rules, each a pure function here, bring the lost changes back:
 *
 * - Clobber rule (the writer that overwrote repairs): when another writer changed keys between
 *   what we built on and what we replaced (or in a sibling event forked from the same parent), put
 *   their values back, unless we wrote those keys ourselves lately (then the difference is their
 *   clobber of us, which rule two covers) or the keys changed again since.
 * - Survival rule (the writer that was overwritten repairs): when the current state does not show
 *   one of our recent changes, and the event that dropped it replaced content that did not show
 *   it either, its author never saw our change: apply it again. If the replaced content did show it,
 *   the author saw our value and changed it on purpose; that change stands.
 */
import { hasOwn, jsonEqual, type Op } from "./format.js";

const valueOf = (content: Record<string, unknown>, key: string): unknown => (hasOwn(content, key) ? content[key] : undefined);

/** Does `content` show the effect of `op`? */
export function reflects(content: Record<string, unknown>, op: Op): boolean {
  return op.kind === "put" ? hasOwn(content, op.key) && jsonEqual(content[op.key], op.value) : !hasOwn(content, op.key);
}

/**
 * Clobber rule: another writer turned `theirBefore` into `theirAfter`; our write (`ourContent`)
 * dropped that. Returns the ops that restore their changes where `current` still holds what we wrote.
 */
export function restoreTheirChanges(p: {
  theirBefore: Record<string, unknown>;
  theirAfter: Record<string, unknown>;
  ourContent: Record<string, unknown>;
  current: Record<string, unknown>;
  /** Keys we wrote lately or are writing now: never restored over. */
  ours: ReadonlySet<string>;
}): Op[] {
  const ops: Op[] = [];
  for (const key of new Set([...Object.keys(p.theirBefore), ...Object.keys(p.theirAfter)])) {
    if (p.ours.has(key)) continue;
    const theirs = valueOf(p.theirAfter, key);
    if (jsonEqual(theirs, valueOf(p.theirBefore, key))) continue; // they did not change it
    if (jsonEqual(theirs, valueOf(p.current, key))) continue; // already there
    if (!jsonEqual(valueOf(p.current, key), valueOf(p.ourContent, key))) continue; // changed again since: that stands
    ops.push(theirs === undefined ? { kind: "delete", key } : { kind: "put", key, value: theirs });
  }
  return ops;
}

/**
 * Survival rule: our recent ops that `current` lost to an author who never saw them.
 * `replaced` is the content the current event replaced (its `unsigned.prev_content`), when known.
 * Returns the ops to apply again, and the keys whose change by the other author stands.
 */
export function lostOwnOps(ownOps: Iterable<Op>, current: Record<string, unknown>, replaced: Record<string, unknown> | undefined): { reapply: Op[]; superseded: string[] } {
  const reapply: Op[] = [];
  const superseded: string[] = [];
  for (const op of ownOps) {
    if (reflects(current, op)) continue;
    if (replaced === undefined || reflects(replaced, op)) superseded.push(op.key);
    else reapply.push(op);
  }
  return { reapply, superseded };
}
