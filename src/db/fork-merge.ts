/**
 * Late-fork merge (docs/DURABILITY.md "Late forks"): with one shared
 * state key, a fork resolved after its writers' flush() had verified their writes keeps one side's
 * whole content, and the other side's acknowledged ops are gone with nobody left to check them. Any
 * live memory that saw the losing side puts that side's changes back onto the winner, three-way:
 *
 * - base: where the two sides forked (./repair-plan.ts `forkPoint`; empty when they share nothing);
 * - a key the losing side changed since base, that the winning side did not: restored, with a
 *   conditional repair (it holds only while the key keeps the winner's value, so several memories
 *   merging the same fork do not fight: after the first lands, the others send nothing);
 * - a key both sides changed: the winner's value stands (concurrent ops: one wins); a key the winning
 *   side changed and set back since counts as changed (its events are walked, not only compared);
 * - a key the losing side only set back because its writer's picture was behind
 *   (`Lineage.staleKeys`): not a change, not restored.
 */
import { differing, type Lineage, type LineageEvent } from "./lineage.js";
import { forkPoint, sideChanges, type Repair, type StateHead } from "./repair-plan.js";
import type { PendingOp } from "./pending-ops.js";
import { opFor, valueOf } from "./repair.js";

/** How far back the losing side is walked to find which of its events last changed a key. */
const BRANCH_DEPTH = 100;

/**
 * Is one of the two built on the other (or the same event)? Then neither lost a fork to the other.
 * `a` is walked first: pass the event most likely known already (the current one).
 */
export async function related(lineage: Lineage, a: LineageEvent, b: LineageEvent): Promise<boolean> {
  return (await lineage.descends(a.eventId, b)) || (await lineage.descends(b.eventId, a));
}

/**
 * The repairs that put `lost`'s side of a fork back onto `current`, the event that won. Nothing
 * when one is built on the other, or when an event of the walk cannot be had.
 */
export async function planForkMerge(lineage: Lineage, lost: LineageEvent, current: LineageEvent): Promise<Repair[]> {
  if (await related(lineage, current, lost)) return [];
  const base = await forkPoint(lineage, lost, current.eventId);
  if (!base) return [];
  // Every key the winning side changed on its way from base, even one it set back since (a value
  // put back and deleted again on purpose is a change, not a key the side left alone).
  const winners = await sideChanges(lineage, current, base.eventId);
  if (!winners) return [];
  const repairs: Repair[] = [];
  for (const key of differing(lost.content, base.content)) {
    if (winners.has(key) || (await setBackStale(lineage, lost, base.eventId, key))) continue;
    repairs.push({ op: opFor(lost.content, key), expect: valueOf(current.content, key) });
  }
  return repairs;
}

/**
 * The tips among events that lost to `current`: those neither built on it nor an ancestor of it,
 * without the ones another of them is built on (a tip's changes include its ancestors').
 */
export async function lostTips(lineage: Lineage, candidates: LineageEvent[], current: LineageEvent): Promise<LineageEvent[]> {
  const lost: LineageEvent[] = [];
  for (const c of candidates) if (!lost.some((l) => l.eventId === c.eventId) && !(await related(lineage, current, c))) lost.push(c);
  const tips: LineageEvent[] = [];
  for (const l of lost) {
    let covered = false;
    for (const other of lost) if (other !== l && (await lineage.descends(other.eventId, l))) covered = true;
    if (!covered) tips.push(l);
  }
  return tips;
}

/**
 * Did the newest event of `lost`'s side that changed `key` (walking back to the fork point) only set
 * it back to an older value, because its writer's picture was behind?
 */
async function setBackStale(lineage: Lineage, lost: LineageEvent, forkId: string | undefined, key: string): Promise<boolean> {
  let e: LineageEvent | undefined = lost;
  for (let steps = 0; e && e.eventId !== forkId && steps < BRANCH_DEPTH; steps++) {
    const replaced: LineageEvent | { content: Record<string, unknown> } | undefined = e.replaces === undefined ? { content: {} } : await lineage.get(e.replaces);
    if (!replaced) return false;
    if (differing(e.content, replaced.content).includes(key)) return (await lineage.staleKeys(e)).has(key);
    e = "eventId" in replaced ? replaced : undefined;
  }
  return false;
}

/**
 * Queued merges (a writer's batch) whose key an event changed since the current event they were
 * planned against, even back to the value they expect: a merge planned long ago (its lineage fetched
 * slowly) put a value back over a delete made since (simulation seed 33673). Not written.
 */
export async function overtakenMerges(lineage: Lineage, batch: PendingOp[], base: StateHead): Promise<Set<PendingOp>> {
  const out = new Set<PendingOp>();
  for (const p of batch) {
    if (!p.against || base.eventId === undefined || base.eventId === p.against) continue;
    const [tip, against] = await Promise.all([lineage.get(base.eventId), lineage.get(p.against)]).catch(() => []);
    if (!tip || !against || !(await lineage.descends(tip.eventId, against).catch(() => false))) continue;
    const changed = await sideChanges(lineage, tip, against.eventId).catch(() => undefined);
    if (!changed || changed.has(p.op.key)) out.add(p);
  }
  return out;
}
