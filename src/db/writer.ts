/**
 * One state event's write queue: every put and delete for keys stored under one (room, state key).
 * The guarantee it keeps and what it relies on: docs/DURABILITY.md.
 *
 * 1. An op (put k v / delete k) joins `pending`; reads see it at once (`lookup`, `view`).
 * 2. One batch is written at a time. Ops that arrive while a batch is in flight wait, and are all
 *    merged into the next batch: a burst of puts costs a few state PUTs, not one each.
 * 3. The batch's content is our best picture of the server's content (`head`) with the batch's ops
 *    applied; one PUT
 *    (https://spec.matrix.org/v1.19/client-server-api/#put_matrixclientv3roomsroomidstateeventtypestatekey).
 *    Its ops resolve when the homeserver accepts it. Nothing changes? Nothing is sent.
 * 4. `verify()` (what `flush()` waits for): once the fork window after our last write has passed,
 *    fetch the key's current event from the homeserver, plan repairs with ./repair.ts's two rules over
 *    the events' lineage (./lineage.ts), write them like any op, and check again until nothing is
 *    left to repair. Our writes are known by the event IDs the server gave back, never by sender, so
 *    two processes of one account repair each other like any two writers.
 */
import type { WriteQueue } from "./room-write-queue.js";
import { applyOps, jsonEqual, type Op } from "./format.js";
import { Lineage, lineageEvent, type LineageEvent } from "./lineage.js";
import { planRepairs, type OurWrite, type Repair, type StateHead } from "./repair-plan.js";
import { overtakenMerges } from "./fork-merge.js";
import { valueOf } from "./repair.js";
import { refuseUnsoundLineage, repairsOnLinear } from "./linear-lineage.js";
import { plain, prepared, type PendingOp } from "./pending-ops.js";

export type { StateHead } from "./repair-plan.js";
export { PendingValue } from "./pending-ops.js";

/** What a writer needs from the memory around it. */
export interface WriterContext {
  readonly queue: WriteQueue;
  /** Our user ID: an event of ours with exactly a lost write's content is that write. */
  readonly userId: string;
  /** The current synced event for this state key, if any. */
  synced(stateKey: string): StateHead | undefined;
  /** Send the PUT; resolves with the event ID. */
  putState(stateKey: string, content: Record<string, unknown>): Promise<string>;
  /** The homeserver's current event for this state key (undefined: there is none). */
  currentEvent(stateKey: string): Promise<LineageEvent | undefined>;
  /** One event by ID (undefined: not found). */
  fetchEvent(eventId: string): Promise<LineageEvent | undefined>;
  /** The server's name when its `replaces_state` is linear (Dendrite: ./linear-lineage.ts); undefined: Synapse's. */
  linearReplacesState?(): Promise<string | undefined>;
  /** How long after a write a concurrent write forked off the same parent can still land (ms). */
  readonly settleMs: number;
  now(): number;
  sleep(ms: number): Promise<void>;
  /** Defer the start of a batch so a burst of calls in the same tick lands in one batch. */
  defer(fn: () => void): void;
  /**
   * How long to wait before writing again after this error (the write is then rebuilt on the
   * freshest picture, never resent as it was); undefined when it is final.
   */
  retryDelay(e: unknown, attempt: number): number | undefined;
  /**
   * The state key holds several keys (singleStateKey): each write first fetches the current event,
   * so it is built on what the server has, not on a sync picture that may be behind.
   */
  readonly shared: boolean;
  /** A write is given up after this long (ms), with its last error. */
  readonly writeTimeoutMs: number;
  /** Failed repair writes (they are kept and tried again by the next flush). */
  onError(e: unknown): void;
}

const noop = () => {};

/**
 * The settle window is at least this many times our slowest PUT: a sibling created just before ours
 * was stored takes about as long to be stored as ours did (docs/DURABILITY.md "How mxdb makes it true").
 */
const SLOW_PUT_FACTOR = 2;

export class StateKeyWriter {
  private pending: PendingOp[] = [];
  private inFlight: PendingOp[] | undefined;
  /** Accepted writes not yet verified, in order. */
  private writes: OurWrite[] = [];
  /** Our newest accepted op per key, until verified. */
  private readonly unverified = new Map<string, { op: Op; write: OurWrite }>();
  /** The current event as the last verification fetched it. */
  private checked: StateHead | undefined;
  private lastAcceptedAt = 0;
  /** The slowest accepted PUT (ms) among the writes waiting to be verified: how loaded the server is. */
  private slowestPutMs = 0;
  private scheduled = false;
  private failure: unknown;
  private failedRepairs: Repair[] = [];
  private verifying: Promise<void> | undefined;
  private quietWaiters: Array<() => void> = [];
  private readonly lineage: Lineage;
  /** Events of this state key that sync showed while a batch was being sent (see landed). */
  private seenWhileSending: LineageEvent[] = [];

  constructor(
    readonly stateKey: string,
    private readonly ctx: WriterContext,
  ) {
    this.lineage = new Lineage((id) => ctx.fetchEvent(id));
  }

  /** Content as this process sees it: synced, plus our ops not yet shown by sync. */
  view(): Record<string, unknown> {
    const base = this.ctx.synced(this.stateKey)?.content ?? {};
    const ours = this.ownOps().map(plain);
    return ours.length === 0 ? base : applyOps(base, ours);
  }

  /** One key's value as this process sees it, without copying the content: our newest op wins. */
  lookup(key: string): { found: boolean; value: unknown } {
    // Newest first, without copying the lists (every put of a shared key looks its key up).
    const hit = (op: Op) => (op.kind === "put" ? { found: true, value: op.value } : { found: false, value: undefined });
    for (const list of [this.pending, this.inFlight ?? []]) {
      for (let i = list.length - 1; i >= 0; i--) if (!list[i]!.merge && list[i]!.op.key === key) return hit(list[i]!.op);
    }
    for (let w = this.writes.length - 1; w >= 0; w--) {
      const write = this.writes[w]!;
      if (write.shown) continue;
      for (let i = write.ops.length - 1; i >= 0; i--) if (write.ops[i]!.key === key) return hit(write.ops[i]!);
    }
    const content = this.ctx.synced(this.stateKey)?.content;
    return content && Object.prototype.hasOwnProperty.call(content, key) ? { found: true, value: content[key] } : { found: false, value: undefined };
  }

  /** Queue an op; resolves when a write carrying it has been accepted. */
  enqueue(op: Op, prepare?: Promise<unknown>): Promise<void> {
    // Its failure is handled when the batch takes it; until then it must not count as unhandled.
    prepare?.catch(() => undefined);
    return new Promise<void>((resolve, reject) => {
      // What the caller saw matters only where a merge can put a value back (./repair-plan.ts survival rule).
      const seen = this.ctx.shared ? this.lookup(op.key) : undefined;
      // A merge still queued for this key is older than the caller's op: sent after it, it would
      // undo the op. The key is ours to set now (see mergeFork).
      this.pending = this.pending.filter((p) => !(p.merge && p.op.key === op.key));
      this.pending.push({ op, ...(prepare ? { prepare } : {}), repair: false, ...(seen ? { saw: { value: seen.found ? seen.value : undefined } } : {}), resolve, reject });
      this.schedule();
    });
  }

  /** Nothing pending, in flight or waiting to be verified. */
  get idle(): boolean {
    return this.quiet && this.writes.length === 0 && this.failedRepairs.length === 0;
  }

  /** A sync response showed these events of this state key. */
  onSync(events: readonly unknown[]): void {
    for (const raw of events) {
      const e = lineageEvent(raw);
      if (!e) continue;
      if (this.writes.length > 0 || this.inFlight) this.lineage.remember(e);
      if (this.inFlight) this.seenWhileSending.push(e);
      for (const w of this.writes) if (w.eventId === e.eventId) w.shown = true;
    }
    const synced = this.ctx.synced(this.stateKey)?.eventId;
    for (const w of this.writes) if (w.eventId === synced) w.shown = true;
  }

  /**
   * Resolves once every accepted op of ours is on the homeserver's current state or was replaced by
   * a writer whose picture held it (docs/DURABILITY.md); rejects when a check or a repair failed.
   */
  verify(): Promise<void> {
    this.verifying ??= this.verifyLoop().finally(() => (this.verifying = undefined));
    return this.verifying;
  }

  private get quiet(): boolean {
    return this.pending.length === 0 && this.inFlight === undefined && !this.scheduled;
  }

  private async verifyLoop(): Promise<void> {
    if (this.failedRepairs.length > 0) {
      for (const r of this.failedRepairs.splice(0)) this.queueRepair(r);
      this.schedule();
    }
    for (;;) {
      await this.whenQuiet();
      if (this.failure !== undefined) {
        const e = this.failure;
        this.failure = undefined;
        throw e;
      }
      if (this.writes.length === 0) return;
      // A write created before ours was stored, off the same parent, may still be landing. A loaded
      // server takes as long to store it as it took to store ours: the window grows with our PUTs.
      const wait = this.lastAcceptedAt + Math.max(this.ctx.settleMs, SLOW_PUT_FACTOR * this.slowestPutMs) - this.ctx.now();
      if (wait > 0) {
        await this.ctx.sleep(wait);
        continue;
      }
      const writes = this.writes.slice();
      const repairs = await this.plan(writes);
      this.writes = this.writes.filter((w) => !writes.includes(w));
      for (const [key, u] of this.unverified) if (writes.includes(u.write)) this.unverified.delete(key);
      if (this.writes.length === 0) {
        this.lineage.clear();
        this.slowestPutMs = 0;
      }
      for (const r of repairs) this.queueRepair(r);
      this.schedule();
    }
  }

  /**
   * Put a lost fork's changes back (./fork-merge.ts), then verify them like any write of ours. Keys
   * with ops of ours queued, in flight or not yet verified are ours to set, not to restore (an op of
   * ours that lost with the fork is applied again by the survival rule; simulation seed 30892).
   */
  mergeFork(repairs: Repair[]): void {
    const ours = new Set([...this.pending, ...(this.inFlight ?? [])].filter((p) => !p.repair).map((p) => p.op.key));
    for (const [key, u] of this.unverified) if (!u.write.expects?.has(key)) ours.add(key);
    const wanted = repairs.filter((r) => !ours.has(r.op.key));
    if (wanted.length === 0) return;
    for (const r of wanted) this.pending.push({ op: r.op, expect: { value: r.expect }, repair: true, merge: true, ...(r.lost ? { lost: r.lost } : {}), ...(r.against ? { against: r.against } : {}), resolve: noop, reject: noop });
    this.schedule();
    this.verify().catch((e: unknown) => this.ctx.onError(e));
  }

  /** The events whose lost sides have merges queued, not yet sent. */
  queuedMerges(): string[] {
    return [...new Set(this.pending.flatMap((p) => (p.lost ? [p.lost] : [])))];
  }

  /** Drop the queued merges of these lost sides: a side that is current again needs none (./room-memory.ts). */
  dropMerges(lost: ReadonlySet<string>): void {
    this.pending = this.pending.filter((p) => !(p.lost && lost.has(p.lost)));
  }

  /** The repairs that the homeserver's current state needs for `writes` (./repair.ts). */
  private queueRepair(r: Repair): void {
    this.pending.push({ op: r.op, expect: { value: r.expect }, repair: true, ...(r.own ? { own: true } : {}), ...(r.saw ? { saw: r.saw } : {}), resolve: noop, reject: noop });
  }

  /** The repairs our writes need against the current event (./repair-plan.ts). */
  private async plan(ours: OurWrite[]): Promise<Repair[]> {
    const current = await this.ctx.currentEvent(this.stateKey);
    if (current) this.lineage.remember(current);
    this.checked = current ? { eventId: current.eventId, content: current.content, ts: current.ts } : { eventId: undefined, content: {} };
    const linear = this.ctx.linearReplacesState && (() => this.ctx.linearReplacesState!());
    await refuseUnsoundLineage(linear, ours, current, [...this.unverified].map(([k, u]) => [k, { op: plain(u.op), write: u.write }]));
    const pendingKeys = new Set(this.pending.map((p) => p.op.key));
    const repairs = await planRepairs({ lineage: this.lineage, userId: this.ctx.userId, current, ours, unverified: this.unverified, pendingKeys });
    // A plan drawn from a lineage that cannot show forks is not written (./linear-lineage.ts).
    return repairsOnLinear({ stateKey: this.stateKey, repairs, content: current?.content ?? {}, ours, unverified: this.unverified, pendingKeys, ...(linear ? { linear } : {}) });
  }

  private ownOps(): Op[] {
    // A merge not yet accepted is not shown to reads: an op made after reading its value would be
    // taken for one that saw it, while against the server's state it is concurrent with it (the
    // merge may lose a fork to it, and then the server's value is one our op never saw).
    const unsent = (list: PendingOp[]) => list.filter((p) => !p.merge).map((p) => p.op);
    const lists = [...this.writes.filter((w) => !w.shown).map((w) => w.ops), unsent(this.inFlight ?? []), unsent(this.pending)];
    return lists.flat();
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight !== undefined || this.pending.length === 0) return;
    this.scheduled = true;
    this.ctx.defer(() => {
      void this.ctx.queue.add(() => this.writeBatch());
    });
  }

  /** The newest picture we have of the server's content: our last write not yet shown, else synced or last checked. */
  private head(): StateHead {
    const last = this.writes.at(-1);
    if (last && !last.shown) return { eventId: last.eventId, content: last.content };
    const synced = this.ctx.synced(this.stateKey);
    const checked = this.checked;
    if (!checked) return synced ?? { eventId: undefined, content: {} };
    if (!synced) return checked;
    return (synced.ts ?? 0) > (checked.ts ?? 0) ? synced : checked;
  }

  private async writeBatch(): Promise<void> {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return this.settle();
    this.inFlight = batch;
    try {
      const ready = await prepared(batch);
      if (ready.length === 0) return;
      let sent: Awaited<ReturnType<StateKeyWriter["send"]>>;
      try {
        sent = await this.send(ready);
      } catch (err) {
        this.failed(ready, err);
        return;
      }
      const ops = sent.ops;
      if (sent.eventId === undefined) {
        // Nothing would change (opsdroid writes anyway; we don't). The event that already shows
        // these ops carries them now: older ops of ours on these keys are superseded.
        const holder = sent.base.eventId;
        if (holder !== undefined) {
          const shown = this.ctx.synced(this.stateKey)?.eventId === holder;
          const write: OurWrite = { eventId: holder, base: sent.base, ops, content: sent.content, shown, holder: true, saw: sent.saw };
          this.writes.push(write);
          for (const op of ops) this.unverified.set(op.key, { op, write });
        }
        for (const p of ready) p.resolve();
        return;
      }
      const { eventId, base, content } = sent;
      const write: OurWrite = { eventId, base, ops, content, shown: false, holder: false, expects: sent.expects, own: sent.own, saw: sent.saw, answerMs: sent.answerMs };
      this.writes.push(write);
      this.lastAcceptedAt = this.ctx.now();
      for (const op of ops) this.unverified.set(op.key, { op, write });
      for (const p of ready) p.resolve();
    } finally {
      this.inFlight = undefined;
      this.seenWhileSending = [];
      this.schedule();
      this.settle();
    }
  }

  /**
   * PUT the ops on our freshest picture. After a failure the write is rebuilt, not resent: a resend
   * of the old body, landing after others' writes, would put back what it was built on.
   */
  private async send(batch: PendingOp[]): Promise<{ eventId: string | undefined; base: StateHead; content: Record<string, unknown>; ops: Op[]; expects: Map<string, unknown>; own: Set<string>; saw: Map<string, unknown>; answerMs?: number }> {
    const began = this.ctx.now();
    const deadline = began + this.ctx.writeTimeoutMs;
    // Just fetched, the server's current event is the freshest picture there is (fresher than an
    // unshown write of ours, which may have lost a fork).
    let fresh = this.ctx.shared && (await this.refresh());
    for (let attempt = 0; ; attempt++) {
      const base = fresh && this.checked ? this.checked : this.head();
      const overtaken = await overtakenMerges(this.lineage, batch, base);
      const live = batch.filter((p) => !overtaken.has(p) && (!p.expect || jsonEqual(valueOf(base.content, p.op.key), p.expect.value)));
      const ops = live.map((p) => p.op);
      const expects = new Map(live.flatMap((p) => (p.expect ? [[p.op.key, p.expect.value] as const] : [])));
      const own = new Set(live.filter((p) => p.own).map((p) => p.op.key));
      // What the caller saw before the batch's first op on each key.
      const saw = new Map<string, unknown>();
      for (const p of live) if (p.saw && !saw.has(p.op.key)) saw.set(p.op.key, p.saw.value);
      const content = applyOps(base.content, ops);
      if (base.eventId !== undefined && jsonEqual(content, base.content)) return { eventId: undefined, base, content, ops, expects, own, saw };
      try {
        const started = this.ctx.now();
        const eventId = await this.ctx.putState(this.stateKey, content);
        this.slowestPutMs = Math.max(this.slowestPutMs, this.ctx.now() - started);
        return { eventId, base, content, ops, expects, own, saw, answerMs: this.ctx.now() - began };
      } catch (e) {
        const wait = this.ctx.retryDelay(e, attempt);
        if (wait === undefined || this.ctx.now() + wait > deadline) throw e;
        await this.ctx.sleep(wait);
        // The failed PUT may have landed, and others may have written: start from the server's state.
        fresh = await this.refresh();
        const landed = await this.landed(content, base);
        // It did land: it is our write (others may have built on it and changed our keys on purpose).
        if (landed) return { eventId: landed.eventId, base, content, ops, expects, own, saw, answerMs: this.ctx.now() - began };
      }
    }
  }

  /** Our event with exactly this content, built after `base`: a PUT whose answer was lost. */
  private async landed(content: Record<string, unknown>, base: StateHead): Promise<LineageEvent | undefined> {
    const baseEvent = base.eventId === undefined ? undefined : await this.lineage.get(base.eventId).catch(() => undefined);
    const since = baseEvent?.ts ?? 0;
    const match = (e: LineageEvent) => e.eventId !== base.eventId && e.sender === this.ctx.userId && jsonEqual(e.content, content);
    try {
      const found = await this.lineage.find(this.checked?.eventId, since, match);
      if (found) return found;
      // It may have landed and lost a fork since (off the current event's history): sync showed it.
      for (const e of this.seenWhileSending) {
        if (match(e) && e.ts >= since && (!baseEvent || (e.replaces !== undefined && (await this.lineage.descends(e.replaces, baseEvent))))) return e;
      }
    } catch {
      // the retry builds on the server's state: a write that did land is then a copy (./repair-plan.ts)
    }
    return undefined;
  }

  /** Fetch the current event into `checked`; false when it could not be had. */
  private async refresh(): Promise<boolean> {
    try {
      const current = await this.ctx.currentEvent(this.stateKey);
      if (current) this.lineage.remember(current);
      this.checked = current ? { eventId: current.eventId, content: current.content, ts: current.ts } : { eventId: undefined, content: {} };
      return true;
    } catch {
      return false; // the next attempt's own error says what is wrong
    }
  }

  private failed(batch: PendingOp[], err: unknown): void {
    const repairs = batch.filter((p) => p.repair && !p.merge);
    if (repairs.length > 0) {
      this.failedRepairs.push(...repairs.map((p) => ({ op: p.op, expect: p.expect?.value, ...(p.own ? { own: true } : {}), ...(p.saw ? { saw: p.saw } : {}) })));
      this.failure = err;
      this.ctx.onError(err);
    } else if (batch.some((p) => p.merge)) {
      // A merge nobody asked for (this memory may have no power to write state): reported, not kept.
      this.ctx.onError(err);
    }
    for (const p of batch) if (!p.repair) p.reject(err);
  }

  private whenQuiet(): Promise<void> {
    return this.quiet ? Promise.resolve() : new Promise((resolve) => this.quietWaiters.push(resolve));
  }

  private settle(): void {
    if (!this.quiet) return;
    const waiters = this.quietWaiters;
    this.quietWaiters = [];
    for (const w of waiters) w();
  }
}
