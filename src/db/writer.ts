/**
 * One state event's write queue: every put and delete for keys stored under one (room, state key).
 *
 * Steps (src/db/README.md has the whole picture):
 * 1. An op (put k v / delete k) joins `pending`; reads see it at once (`lookup`, `view`).
 * 2. One batch is written at a time. Ops that arrive while a batch is in flight wait, and are all
 *    merged into the next batch: a burst of puts costs a few state PUTs, not one each.
 * 3. The batch's content is our best picture of the server's current content (`head`: our newest
 *    accepted write, else the synced event) with the batch's ops applied; one PUT
 *    (https://spec.matrix.org/v1.19/client-server-api/#put_matrixclientv3roomsroomidstateeventtypestatekey).
 *    Its ops resolve when the homeserver accepts it. Nothing changes? Nothing is sent.
 * 4. The accepted write stays `unconfirmed` until sync shows it, with what it replaced. Then the two
 *    lost-update rules of ./repair.ts run, and any op they return is queued like a caller's.
 */
import type PQueue from "p-queue";
import { applyOps, hasOwn, jsonEqual, type Op } from "./format.js";
import { lostOwnOps, restoreTheirChanges } from "./repair.js";

export interface StateHead {
  eventId: string | undefined;
  content: Record<string, unknown>;
  sender?: string;
  unsigned?: Record<string, unknown>;
}

/** A state event of this state key as the sync timeline delivered it. */
export interface SeenEvent {
  event_id: string;
  sender: string;
  content: Record<string, unknown>;
  unsigned?: Record<string, unknown>;
}

/** What a writer needs from the memory around it. */
export interface WriterContext {
  readonly queue: PQueue;
  readonly userId: string;
  /** The current synced event for this state key, if any. */
  synced(stateKey: string): StateHead | undefined;
  /** Send the PUT; resolves with the new event ID. */
  putState(stateKey: string, content: Record<string, unknown>): Promise<string>;
  /** Fetch an event's `unsigned` (when sync did not show the event). */
  fetchUnsigned(eventId: string): Promise<Record<string, unknown> | undefined>;
  /** The clock's now (ms), to age out the ops we wrote lately. */
  now(): number;
  /** Defer the start of a batch so a burst of calls in the same tick lands in one batch. */
  defer(fn: () => void): void;
}

/** How long our accepted ops are watched for being lost (well above sync latency). */
const WATCH_OWN_OPS_MS = 120_000;
/** Our recent writes kept to recognise events forked from the same parent. */
const RECENT_WRITES = 32;

interface PendingOp {
  op: Op;
  resolve: () => void;
  reject: (e: unknown) => void;
}

interface AcceptedWrite {
  eventId: string;
  base: StateHead;
  ops: Op[];
  content: Record<string, unknown>;
  /** What the server says it replaced (set on confirmation; undefined = nothing). */
  replaced?: string;
  syncsMissed: number;
  fetching: boolean;
}

const noop = () => {};

export class StateKeyWriter {
  private pending: PendingOp[] = [];
  private inFlight: Op[] | undefined;
  private unconfirmed: AcceptedWrite[] = [];
  private recent: AcceptedWrite[] = [];
  /** Our accepted ops, newest per key, with when: watched until they age out or are superseded. */
  private readonly watched = new Map<string, { op: Op; at: number }>();
  private scheduled = false;
  private idleWaiters: Array<() => void> = [];

  constructor(
    readonly stateKey: string,
    private readonly ctx: WriterContext,
  ) {}

  /** Content as this process sees it: synced, plus our ops not yet shown by sync. */
  view(): Record<string, unknown> {
    const base = this.ctx.synced(this.stateKey)?.content ?? {};
    const ours = this.ownOps();
    return ours.length === 0 ? base : applyOps(base, ours);
  }

  /** One key's value as this process sees it, without copying the content: our newest op wins. */
  lookup(key: string): { found: boolean; value: unknown } {
    const ops = this.ownOps();
    for (let i = ops.length - 1; i >= 0; i--) {
      const op = ops[i]!;
      if (op.key === key) return op.kind === "put" ? { found: true, value: op.value } : { found: false, value: undefined };
    }
    const content = this.ctx.synced(this.stateKey)?.content;
    return content && hasOwn(content, key) ? { found: true, value: content[key] } : { found: false, value: undefined };
  }

  /** Queue an op; resolves when a write carrying it has been accepted. */
  enqueue(op: Op): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ op, resolve, reject });
      this.schedule();
    });
  }

  /** Nothing pending, in flight or waiting for sync to confirm it. */
  get idle(): boolean {
    return this.pending.length === 0 && this.inFlight === undefined && this.unconfirmed.length === 0 && !this.scheduled;
  }

  /** Something to check when a sync arrives. */
  get watching(): boolean {
    return this.unconfirmed.length > 0 || this.watched.size > 0;
  }

  /** Resolves when `idle` (repairs included). */
  whenIdle(): Promise<void> {
    return this.idle ? Promise.resolve() : new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** A sync response was applied; `events` are this state key's events in its timeline, in order. */
  onSync(events: readonly SeenEvent[]): void {
    const byId = new Map(events.map((e) => [e.event_id, e]));
    const synced = this.ctx.synced(this.stateKey);
    for (const write of [...this.unconfirmed]) {
      const seen = byId.get(write.eventId);
      if (seen) this.confirm(write, seen.unsigned ?? {});
      else if (synced?.eventId === write.eventId && write.base.eventId === write.eventId) this.confirm(write, { replaces_state: write.base.eventId });
      else if (++write.syncsMissed >= 2 && !write.fetching) this.fetchAndConfirm(write);
    }
    for (const e of events) if (e.sender !== this.ctx.userId && e.unsigned) this.checkSibling(e);
    this.checkSurvival();
    this.schedule();
    this.settle();
  }

  private ownOps(): Op[] {
    const lists = [...this.unconfirmed.map((w) => w.ops), this.inFlight ?? [], this.pending.map((p) => p.op)];
    return lists.length === 1 ? lists[0]! : lists.flat();
  }

  /** Keys we must not restore over: ours in flight or watched. */
  private ourKeys(): Set<string> {
    return new Set([...this.watched.keys(), ...this.ownOps().map((o) => o.key)]);
  }

  private fetchAndConfirm(write: AcceptedWrite): void {
    // Not in the timelines we saw (a gap, or state_after only): ask for the event itself.
    write.fetching = true;
    this.ctx.fetchUnsigned(write.eventId).then(
      (unsigned) => {
        if (!this.unconfirmed.includes(write)) return;
        this.confirm(write, unsigned ?? {});
        this.schedule();
        this.settle();
      },
      () => {
        write.fetching = false;
      },
    );
  }

  /** Sync showed our write: record what it replaced; if that is not what we built on, restore. */
  private confirm(write: AcceptedWrite, unsigned: Record<string, unknown>): void {
    this.unconfirmed = this.unconfirmed.filter((w) => w !== write);
    write.replaced = typeof unsigned.replaces_state === "string" ? unsigned.replaces_state : undefined;
    this.recent = [...this.recent, write].slice(-RECENT_WRITES);
    const prev = unsigned.prev_content;
    if (write.replaced === write.base.eventId || typeof prev !== "object" || prev === null) return;
    this.queueRepairs(
      restoreTheirChanges({
        theirBefore: write.base.content,
        theirAfter: prev as Record<string, unknown>,
        ourContent: write.content,
        current: this.ctx.synced(this.stateKey)?.content ?? {},
        ours: this.ourKeys(),
      }),
    );
  }

  /** Another writer's event forked from the same parent as one of ours: keep its changes too. */
  private checkSibling(e: SeenEvent): void {
    const replaced = typeof e.unsigned?.replaces_state === "string" ? e.unsigned.replaces_state : undefined;
    const sibling = this.recent.find((w) => w.replaced === replaced);
    if (!sibling) return;
    const prev = e.unsigned?.prev_content;
    this.queueRepairs(
      restoreTheirChanges({
        theirBefore: typeof prev === "object" && prev !== null ? (prev as Record<string, unknown>) : {},
        theirAfter: e.content,
        ourContent: sibling.content,
        current: this.ctx.synced(this.stateKey)?.content ?? {},
        ours: this.ourKeys(),
      }),
    );
  }

  /** When settled, does the current state still show our recent ops? */
  private checkSurvival(): void {
    if (this.pending.length > 0 || this.inFlight !== undefined || this.unconfirmed.length > 0) return;
    const now = this.ctx.now();
    for (const [key, w] of this.watched) if (now - w.at >= WATCH_OWN_OPS_MS) this.watched.delete(key);
    const current = this.ctx.synced(this.stateKey);
    if (!current || current.sender === this.ctx.userId || this.watched.size === 0) return;
    const { reapply, superseded } = lostOwnOps(
      [...this.watched.values()].map((w) => w.op),
      current.content,
      replacedContent(current.unsigned),
    );
    for (const key of superseded) this.watched.delete(key);
    this.queueRepairs(reapply);
  }

  private queueRepairs(ops: Op[]): void {
    for (const op of ops) {
      this.pending.push({ op, resolve: noop, reject: noop });
    }
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight !== undefined || this.pending.length === 0) return;
    this.scheduled = true;
    this.ctx.defer(() => {
      void this.ctx.queue.add(() => this.writeBatch());
    });
  }

  /** The newest state we know the server has: our newest accepted write, else the synced event. */
  private head(): StateHead {
    const last = this.unconfirmed.at(-1);
    if (last) return { eventId: last.eventId, content: last.content };
    return this.ctx.synced(this.stateKey) ?? { eventId: undefined, content: {} };
  }

  private async writeBatch(): Promise<void> {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return this.settle();
    const ops = batch.map((p) => p.op);
    const base = this.head();
    const content = applyOps(base.content, ops);
    if (base.eventId !== undefined && jsonEqual(content, base.content)) {
      // Nothing would change (opsdroid writes anyway; we don't).
      for (const p of batch) p.resolve();
      this.checkSurvival();
      this.schedule();
      return this.settle();
    }
    this.inFlight = ops;
    try {
      const eventId = await this.ctx.putState(this.stateKey, content);
      this.unconfirmed.push({ eventId, base, ops, content, syncsMissed: 0, fetching: false });
      const now = this.ctx.now();
      for (const op of ops) {
        this.watched.delete(op.key); // re-insert: the map stays in time order
        this.watched.set(op.key, { op, at: now });
      }
      for (const p of batch) p.resolve();
    } catch (err) {
      for (const p of batch) p.reject(err);
    } finally {
      this.inFlight = undefined;
      this.schedule();
      this.settle();
    }
  }

  private settle(): void {
    if (!this.idle) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}

/**
 * The content the current event replaced, from its `unsigned`: `prev_content` when given; `{}`
 * when the server says it replaced nothing; undefined when we cannot tell.
 */
function replacedContent(unsigned: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!unsigned) return undefined;
  const prev = unsigned.prev_content;
  if (typeof prev === "object" && prev !== null) return prev as Record<string, unknown>;
  return unsigned.replaces_state === undefined ? {} : undefined;
}
