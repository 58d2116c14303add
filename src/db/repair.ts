/**
 * Lost-update repair for a state key shared by several writers (docs/DURABILITY.md).
 *
 * A state PUT replaces the whole content and the Client-Server API has no compare-and-swap, so a
 * writer whose picture was behind drops others' changes, and two writes created at the same moment
 * fork off one parent, one of them losing state resolution. Each writer repairs its own writes,
 * with two rules, planned here against the homeserver's current state:
 *
 * - Clobber rule: our write replaced an event we had not built on; the keys where that event
 *   differed from what we wrote (and that our write did not set) were someone's changes we
 *   dropped: put them back, unless the key changed again since, or the difference is our own op
 *   that the replaced event lacked only because it came from a fork.
 * - Survival rule: an op of ours that the current state does not show, where the current event was
 *   not built on the write that carried it (a fork won): apply it again. If the current event was
 *   built on our write, its author's picture held our op and changed it on purpose (or, if it was
 *   behind, its own clobber rule puts ours back).
 */
import { hasOwn, jsonEqual, type Op } from "./format.js";

export const valueOf = (content: Record<string, unknown>, key: string): unknown => (hasOwn(content, key) ? content[key] : undefined);

/** Does `content` show the effect of `op`? */
export function reflects(content: Record<string, unknown>, op: Op): boolean {
  return op.kind === "put" ? hasOwn(content, op.key) && jsonEqual(content[op.key], op.value) : !hasOwn(content, op.key);
}

/** The op that sets `key` to its value in `content` (a delete when absent). */
export function opFor(content: Record<string, unknown>, key: string): Op {
  return hasOwn(content, key) ? { kind: "put", key, value: content[key] } : { kind: "delete", key };
}

/**
 * Clobber-rule candidates: keys where the replaced content differs from what our write held, among
 * the keys our write did not set. The caller then drops those whose difference is a fork of ours
 * and those changed again since (`stillOurs`).
 */
export function droppedKeys(ourContent: Record<string, unknown>, replaced: Record<string, unknown>, set: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (const key of new Set([...Object.keys(ourContent), ...Object.keys(replaced)])) {
    if (set.has(key)) continue;
    if (!jsonEqual(valueOf(ourContent, key), valueOf(replaced, key))) out.push(key);
  }
  return out;
}

/** The current content still holds what our write put there for `key` (nobody changed it since). */
export function stillOurs(current: Record<string, unknown>, ourContent: Record<string, unknown>, key: string): boolean {
  return hasOwn(current, key) === hasOwn(ourContent, key) && jsonEqual(valueOf(current, key), valueOf(ourContent, key));
}
