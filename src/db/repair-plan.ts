/**
 * Which repairs our accepted writes need, planned against the homeserver's current event with the
 * two rules of ./repair.ts over the lineage of replaced events (./lineage.ts). The guarantee this
 * serves and what it relies on: docs/DURABILITY.md.
 */
import { jsonEqual, type Op } from "./format.js";
import { differing, type Lineage, type LineageEvent } from "./lineage.js";
import { droppedKeys, opFor, reflects, stillOurs, valueOf } from "./repair.js";

/** How far back a fork's side is walked to find where it left our base's history. */
const FORK_DEPTH = 100;

const sameValue = (a: Record<string, unknown>, b: Record<string, unknown>, k: string) => Object.hasOwn(a, k) === Object.hasOwn(b, k) && jsonEqual(a[k], b[k]);

export interface StateHead {
  eventId: string | undefined;
  content: Record<string, unknown>;
  /** origin_server_ts, when known: the newer of two pictures wins as the base of a write. */
  ts?: number;
}

/** One accepted write of ours, until it is verified. */
export interface OurWrite {
  eventId: string;
  base: StateHead;
  ops: Op[];
  content: Record<string, unknown>;
  /** Sync has shown the event (reads then come from the synced picture). */
  shown: boolean;
  /** Not a write of ours: the event that already held these ops when they were queued. */
  holder: boolean;
  /** Repairs among the ops: the value each expected the key to have. */
  expects?: Map<string, unknown>;
  /** Keys among `expects` whose repair applied an op of ours again (Repair.own). */
  own?: Set<string>;
  /** The value the caller saw of each key before its op (undefined: absent). */
  saw?: Map<string, unknown>;
  /** Set on a copy of one of our writes stored again later (see withDuplicates): the original. */
  copyOf?: OurWrite;
  /** How long (ms) from the start of sending it until the homeserver's answer: a resent copy is created within that. */
  answerMs?: number;
}

/**
 * A repair holds only while the key still has the value it was planned against: written later, on
 * a picture where someone has changed the key since, it would undo that change.
 */
export interface Repair {
  op: Op;
  /** The key's value (undefined: absent) when the repair was planned. */
  expect: unknown;
  /** A late-fork merge's (./fork-merge.ts): the event whose side lost, and the one that won. */
  lost?: string;
  against?: string;
  /**
   * Applies an op of ours again (survival rule): still the caller's op, with what the caller saw
   * before it, not a value put back for someone else.
   */
  own?: boolean;
  saw?: { value: unknown };
}

export interface PlanInput {
  lineage: Lineage;
  userId: string;
  /** The homeserver's current event for the state key (undefined: none). */
  current: LineageEvent | undefined;
  /** The writes being verified, in order. */
  ours: OurWrite[];
  /** Our newest accepted op per key, with the write that carried it. */
  unverified: ReadonlyMap<string, { op: Op; write: OurWrite }>;
  /** Keys with ops of ours still queued: they are ours to set, not to restore. */
  pendingKeys: ReadonlySet<string>;
}

export async function planRepairs(p: PlanInput): Promise<Repair[]> {
  const { lineage, current, ours } = p;
  const now = current?.content ?? {};
  const writes = current ? await withDuplicates(lineage, p.userId, ours, current) : ours;
  const repairs = new Map<string, Repair>();
  const setLater = (i: number, key: string) => writes.slice(i + 1).some((w) => w.ops.some((o) => o.key === key)) || p.pendingKeys.has(key);
  for (let i = 0; i < writes.length; i++) {
    const w = writes[i]!;
    if (w.holder) continue;
    const ev = await lineage.get(w.eventId);
    if (!ev || ev.replaces === w.base.eventId) continue;
    const replaced = ev.replaces === undefined ? ({ content: {} } as const) : await lineage.get(ev.replaces);
    if (!replaced) continue; // cannot tell what was there: the survival rule still covers our own ops
    // A repair whose key the server had changed by the time it landed set nothing on purpose.
    // A copy set nothing on purpose: it only put an old body back.
    const set = new Set(w.copyOf ? [] : w.ops.filter((o) => !w.expects?.has(o.key) || jsonEqual(valueOf(replaced.content, o.key), w.expects.get(o.key))).map((o) => o.key));
    // What the replaced event's writer set back because its own picture was behind is not a change to restore.
    const stale = "eventId" in replaced ? await lineage.staleKeys(replaced) : new Set<string>();
    // When the replaced event is not built on our base (a fork: it never saw our base's writes), a key
    // it holds as the newest event our base was also built on held it is no newer than our base: only
    // what its branch changed since is a change to restore. Otherwise our stale picture would undo
    // another writer's acknowledged value that our base held and the fork merely lacked.
    const touched = "eventId" in replaced && (await forkedFrom(lineage, replaced, w.base)) ? await branchChanges(lineage, replaced, w.base) : undefined;
    // Keys changed by an event between our write and the current one, even set back to our value since
    // (a writer whose picture was behind did so: its own clobber rule restores what it dropped; seed 32261).
    const since = current && current.eventId !== ev.eventId && (await lineage.descends(current.eventId, ev)) ? await eventsSince(lineage, current, ev.eventId) : undefined;
    for (const key of droppedKeys(w.content, replaced.content, set)) {
      const mine = writes.slice(0, i).findLast((x) => x.ops.some((o) => o.key === key));
      const mineOp = mine?.ops.findLast((o) => o.key === key);
      // Our own earlier op that our write dropped (its base was behind) is no stale set-back of the
      // replaced event's writer, whatever the stale test says (simulation seed 33193).
      const ownDropped = mineOp !== undefined && reflects(replaced.content, mineOp) && !reflects(w.content, mineOp);
      // (A key that since held only our value or the one we dropped was changed by nobody else: a
      // writer carried the dropped value and another stale one dropped it again; seed 40450.)
      const changedSince = since?.some((c) => !sameValue(c, w.content, key) && !sameValue(c, replaced.content, key));
      if (setLater(i, key) || !stillOurs(now, w.content, key) || changedSince || (stale.has(key) && !ownDropped) || (touched && !touched.has(key))) continue;
      // A value an op of ours replaced (its write's base or its caller held it) is no one's change
      // to restore: the replaced event's writer only had an older picture (simulation seed 724).
      if (replacedByUs(writes.slice(0, i + 1), key, replaced.content)) continue;
      // The replaced event lacks an op of ours only because it came from a fork: keep ours.
      // (Only when our write still carries that op: a value we only carried over from our base is not ours.)
      const mineEvent = mine && mineOp && reflects(w.content, mineOp) && (await lineage.get(mine.eventId));
      if (mineEvent && ev.replaces !== undefined && !(await lineage.descends(ev.replaces, mineEvent))) continue;
      repairs.set(key, { op: opFor(replaced.content, key), expect: valueOf(now, key) });
    }
  }
  for (const [key, u] of p.unverified) {
    if (!writes.includes(u.write) || repairs.has(key) || reflects(now, u.op)) continue;
    const carrier = await lineage.get(u.write.eventId);
    // Built on our write, the current event's author held our op, unless our op changed nothing there
    // (the key already had our value: the value the caller saw and replaced had lost a fork) and the
    // key holds that value again: its writer applied it again, not knowing our op (seed 31223).
    if (current && carrier && (await lineage.descends(current.eventId, carrier)) && !(await putBackUnder(lineage, u.op, u.write, carrier, now))) continue;
    // A copy of the write that carried it may be what won: then the current event was built on our op too.
    if (current && (await builtOnCopy(lineage, current.eventId, writes, u.write))) continue;
    // A fork won, but a merge or repair carried our value onto the winning side: whoever changed it
    // there since had it (simulation seed 33065).
    if (u.op.kind === "put" && carrier && current && (await heldOnWinningSide(lineage, carrier, current, u.op))) continue;
    // A fork won. When the winning side never changed the key since the two forked, our op was lost
    // with the fork only: apply it again (the key may hold an older value than our base's: our base
    // was on the losing side too; seed 30892). So it was too when the key holds the value the caller
    // saw before the op (a repair or merge of it landed in the fork that won: our op replaced that
    // value on purpose; seed 602). When the winning side changed the key, even back to our base's
    // value, it stands: concurrent with ours, or made by a writer whose picture showed our value
    // while its event was current (seed 36078); a repair of ours applied again would undo it (seed
    // 38429). When the winning side's history cannot be had, an op of the caller's is applied again
    // if the key still holds our base's value.
    // (Absence seen is no such sign: the winning side's delete made on purpose leaves it too; seed 36078.)
    const seen = u.write.saw?.has(key) === true && u.write.saw.get(key) !== undefined && jsonEqual(valueOf(now, key), u.write.saw.get(key));
    const repair = u.write.expects?.has(key) === true && u.write.own?.has(key) !== true;
    const changed = carrier && current ? await changedOnWinningSide(lineage, carrier, current, key) : undefined;
    const lostOnly = changed === false || (changed === undefined && !repair && sameValue(now, u.write.base.content, key));
    if (!lostOnly && !(seen && !repair)) continue;
    // A repair the server placed on an event where the key no longer held what it expected set
    // nothing on purpose (as in the clobber rule): it is not applied again (seed 37684).
    if (repair && !(await landedAsPlanned(lineage, carrier, key, u.write.expects!.get(key)))) continue;
    // Still the caller's op: applied again, it keeps what the caller saw (a value put back over it
    // that the caller had replaced loses to it again; simulation seed 1989).
    // A repair applied again stays a repair (seed 37684: marked the caller's, it was later applied
    // again over a newer value by the caller's rules).
    const saw = !repair && u.write.saw?.has(key) ? { saw: { value: u.write.saw.get(key) } } : {};
    repairs.set(key, { op: u.op, expect: valueOf(now, key), ...(repair ? {} : { own: true }), ...saw });
  }
  return [...repairs.values()];
}

/** The contents of the events from `tip` back to `stop` (not included); undefined when one cannot be had. */
async function eventsSince(lineage: Lineage, tip: LineageEvent, stop: string): Promise<Record<string, unknown>[] | undefined> {
  const out: Record<string, unknown>[] = [];
  let e: LineageEvent | undefined = tip;
  for (let steps = 0; e && e.eventId !== stop; steps++) {
    if (steps >= FORK_DEPTH) return undefined;
    out.push(e.content);
    if (e.replaces === undefined) return out;
    e = await lineage.get(e.replaces);
  }
  return e ? out : undefined;
}

/**
 * Did one of `writes` set `key` over exactly the value `content` holds for it? (Not absence: a
 * delete made on purpose leaves the same absence our op may have replaced.)
 */
function replacedByUs(writes: OurWrite[], key: string, content: Record<string, unknown>): boolean {
  if (!Object.hasOwn(content, key)) return false;
  const was = content[key];
  return writes.some((x) => {
    const op = x.ops.findLast((o) => o.key === key);
    if (x.holder || x.copyOf || !op || reflects(content, op)) return false;
    return hasValue(x.base.content, key, was) || (x.saw?.has(key) === true && jsonEqual(x.saw.get(key), was));
  });
}

/** Did an event of `current`'s side, since it forked from `ours`, hold `op`'s value? (Unknown: no.) */
async function heldOnWinningSide(lineage: Lineage, ours: LineageEvent, current: LineageEvent, op: Op): Promise<boolean> {
  const point = await forkPoint(lineage, ours, current.eventId);
  let e: LineageEvent | undefined = current;
  for (let steps = 0; point && e && e.eventId !== point.eventId && steps < FORK_DEPTH; steps++) {
    if (reflects(e.content, op)) return true;
    e = e.replaces === undefined ? undefined : await lineage.get(e.replaces);
  }
  return false;
}

/** Did the event `carrier` replaced hold `expect` for `key` (undefined: absent)? */
async function landedAsPlanned(lineage: Lineage, carrier: LineageEvent | undefined, key: string, expect: unknown): Promise<boolean> {
  if (!carrier) return false;
  const replaced = carrier.replaces === undefined ? { content: {} } : await lineage.get(carrier.replaces);
  return replaced !== undefined && hasValue(replaced.content, key, expect);
}

/** Did an event of `current`'s side change `key` since it forked from `ours`? Undefined: unknown. */
async function changedOnWinningSide(lineage: Lineage, ours: LineageEvent, current: LineageEvent, key: string): Promise<boolean | undefined> {
  const point = await forkPoint(lineage, ours, current.eventId);
  const changed = point && (await sideChanges(lineage, current, point.eventId));
  return changed?.has(key);
}

/**
 * Our op changed nothing on the server (its base, or the event its write replaced, already showed
 * it: the value the caller saw had been dropped or lost a fork), and the key now holds exactly that
 * value again: someone put back what our op replaced, not knowing our op (seeds 31223, 39936).
 */
async function putBackUnder(lineage: Lineage, op: Op, w: OurWrite, carrier: LineageEvent, now: Record<string, unknown>): Promise<boolean> {
  if (w.saw?.has(op.key) !== true) return false;
  const saw = w.saw.get(op.key);
  if (reflects(saw === undefined ? {} : { [op.key]: saw }, op) || !hasValue(now, op.key, saw)) return false;
  if (reflects(w.base.content, op)) return true;
  const replaced = carrier.replaces === undefined ? { content: {} } : await lineage.get(carrier.replaces);
  return replaced !== undefined && reflects(replaced.content, op);
}

/** `content` holds `value` for `key` (undefined: absent). */
const hasValue = (content: Record<string, unknown>, key: string, value: unknown) => (value === undefined ? !Object.hasOwn(content, key) : Object.hasOwn(content, key) && jsonEqual(content[key], value));

/**
 * Our writes, and copies of them that landed again later under another event ID (a proxy that
 * resent a PUT after the first one was stored): our user's event with exactly the content of one
 * of our writes. Such a copy is an old picture written over newer events: ours to repair.
 */
async function withDuplicates(lineage: Lineage, userId: string, writes: OurWrite[], current: LineageEvent): Promise<OurWrite[]> {
  const known = new Set(writes.map((w) => w.eventId));
  // A copy may even be the first to have landed (the answer we got was a resend's): look back to the oldest base.
  const first = writes.find((w) => !w.holder);
  const base = first?.base.eventId === undefined ? undefined : await lineage.get(first.base.eventId);
  const since = !first ? Infinity : first.base.eventId === undefined ? 0 : (base?.ts ?? Infinity);
  const copies: Array<{ write: OurWrite; ts: number }> = [];
  let id: string | undefined = current.eventId;
  // Back to the oldest base, no further: a copy is built after its original's base (and a walk that
  // stops there fetches nothing the check did not need).
  for (let steps = 0; id !== undefined && id !== first?.base.eventId && steps < 100; steps++) {
    const e = await lineage.get(id);
    if (!e || e.ts < since) break;
    const of = known.has(e.eventId) || e.sender !== userId ? undefined : await originalOf(lineage, writes, e);
    if (of) copies.push({ write: { ...of, eventId: e.eventId, shown: true, copyOf: of }, ts: e.ts });
    id = e.replaces;
  }
  if (copies.length === 0) return writes;
  const ts = async (w: OurWrite) => (await lineage.get(w.eventId))?.ts ?? 0;
  const all = await Promise.all(writes.map(async (w) => ({ write: w, ts: await ts(w) })));
  return [...all, ...copies].sort((a, b) => a.ts - b.ts).map((x) => x.write);
}

/**
 * The write of ours that `e` (our user's event, not one of our writes) is a copy of, if any: one with
 * exactly its content, that `e` was built after (a copy is stored after the original's base). A
 * resent PUT is created before its answer reaches us: an event stamped later than the original's
 * stamp plus the time its answer took, or stamped after a later write of ours or built on one, is
 * another process of our account writing the same content on purpose (in per-key mode a delete's
 * `{}` recurs all the time; simulation seeds 30897 and 33969).
 */
async function originalOf(lineage: Lineage, writes: OurWrite[], e: LineageEvent): Promise<OurWrite | undefined> {
  const sent = writes.filter((w) => !w.holder);
  for (let i = sent.length - 1; i >= 0; i--) {
    const of = sent[i]!;
    if (!jsonEqual(of.content, e.content)) continue;
    if (of.base.eventId !== undefined && (e.replaces === undefined || !(await builtAfter(lineage, e.replaces, of.base)))) continue;
    const original = await lineage.get(of.eventId);
    if (original && of.answerMs !== undefined && e.ts > original.ts + of.answerMs) continue;
    let afterLater = false;
    for (const w of sent.slice(i + 1)) {
      const we = await lineage.get(w.eventId);
      if (we && (e.ts > we.ts || (await lineage.descends(e.eventId, we)))) afterLater = true;
    }
    if (!afterLater) return of;
  }
  return undefined;
}

/** `e` is not built on `base` (both known, and the walk back from `e` does not reach it). */
async function forkedFrom(lineage: Lineage, e: LineageEvent, base: StateHead): Promise<boolean> {
  if (base.eventId === undefined) return false;
  const b = await lineage.get(base.eventId);
  return b !== undefined && !(await lineage.descends(e.eventId, b));
}

/**
 * Keys whose value `e` holds differently from the newest event of its ancestry that `base` was also
 * built on (or from no content at all, when the two share none): the changes made on `e`'s side of
 * the fork. The fork point is not always `e`'s predecessor: two first writes to a state key both
 * replace nothing, and then every key of the other side is a change our base never saw.
 * Undefined when an event of the walk cannot be had.
 */
async function branchChanges(lineage: Lineage, e: LineageEvent, base: StateHead): Promise<Set<string> | undefined> {
  const point = await forkPoint(lineage, e, base.eventId);
  return point && new Set(differing(e.content, point.content));
}

/**
 * The newest event of `e`'s ancestry (from the event it replaced) that `other` is also built on:
 * where the two sides forked. `eventId` undefined with empty content when they share no history
 * (or `other` is undefined); undefined when an event of the walk cannot be had.
 */
export async function forkPoint(lineage: Lineage, e: LineageEvent, other: string | undefined): Promise<{ eventId: string | undefined; content: Record<string, unknown> } | undefined> {
  let id = e.replaces;
  for (let steps = 0; id !== undefined; steps++) {
    if (steps >= FORK_DEPTH) return undefined;
    const a = await lineage.get(id);
    if (!a) return undefined;
    if (other !== undefined && (await lineage.descends(other, a))) return { eventId: a.eventId, content: a.content };
    id = a.replaces;
  }
  return { eventId: undefined, content: {} };
}

/** The keys any event from `tip` back to the fork point changed; undefined when the walk cannot be had. */
export async function sideChanges(lineage: Lineage, tip: LineageEvent, forkId: string | undefined): Promise<Set<string> | undefined> {
  const keys = new Set<string>();
  let e: LineageEvent | undefined = tip;
  for (let steps = 0; e && e.eventId !== forkId; steps++) {
    if (steps >= FORK_DEPTH) return undefined;
    const replaced: LineageEvent | undefined = e.replaces === undefined ? undefined : await lineage.get(e.replaces);
    if (e.replaces !== undefined && !replaced) return undefined;
    for (const k of differing(e.content, replaced?.content ?? {})) keys.add(k);
    e = replaced;
  }
  return keys;
}

/** Is `eventId` the base of `write` or built on it? (Without a base, anything is later.) */
async function builtAfter(lineage: Lineage, eventId: string, base: StateHead): Promise<boolean> {
  if (base.eventId === undefined) return true;
  const b = await lineage.get(base.eventId);
  return b !== undefined && (await lineage.descends(eventId, b));
}

async function builtOnCopy(lineage: Lineage, current: string, writes: OurWrite[], original: OurWrite): Promise<boolean> {
  for (const w of writes) {
    if (w.copyOf !== original) continue;
    const e = await lineage.get(w.eventId);
    if (e && (await lineage.descends(current, e))) return true;
  }
  return false;
}
