/**
 * The memory of one room: its state keys' writers, reads over the sync-fed picture, and the
 * one-time legacy migration.
 */
import type { WriteQueue } from "./room-write-queue.js";
import type { RoomState } from "../state/room-state.js";
import { MigrationError } from "./errors.js";
import { EVENT_TYPE, hasOwn, LEGACY_EVENT_TYPE, planLegacyMigration, sharesOneEvent, type SingleStateKey } from "./format.js";
import { lostTips, planForkMerge } from "./fork-merge.js";
import { Lineage, lineageEvent, type LineageEvent } from "./lineage.js";
import type { Repair } from "./repair-plan.js";
import { StateKeyWriter, type StateHead, type WriterContext } from "./writer.js";

export interface RoomContext {
  readonly queue: WriteQueue;
  readonly singleStateKey: SingleStateKey;
  /** The room as the sync loop sees it (undefined until it appears in a sync). */
  state(): RoomState | undefined;
  putState(stateKey: string, content: Record<string, unknown>): Promise<string>;
  currentEvent(stateKey: string): Promise<LineageEvent | undefined>;
  /** The room's whole current state (`GET /rooms/{roomId}/state`), for many checks at once. */
  allState(): Promise<readonly unknown[]>;
  fetchEvent(eventId: string): Promise<LineageEvent | undefined>;
  /** See WriterContext.linearReplacesState. */
  linearReplacesState?(): Promise<string | undefined>;
  redact(eventId: string): Promise<void>;
  readonly userId: string;
  readonly settleMs: number;
  /** Put a shared state key's lost fork back onto the winner (./fork-merge.ts). */
  readonly mergeForks: boolean;
  readonly writeTimeoutMs: number;
  retryDelay(e: unknown, attempt: number): number | undefined;
  now(): number;
  sleep(ms: number): Promise<void>;
  defer(fn: () => void): void;
  onError(e: unknown): void;
}

/**
 * Up to this many state keys checked at once are fetched one by one; more, with one whole-state
 * request (which in a room of 10,000 keys is megabytes: worth it only for many keys).
 */
const FETCH_ONE_BY_ONE = 32;
/** The merge's lineage is started afresh past this many events (it only needs the recent ones). */
const MERGE_LINEAGE_EVENTS = 1000;

export class RoomMemory {
  private readonly writers = new Map<string, StateKeyWriter>();
  /** State keys whose current event was asked for in this tick: fetched together. */
  private asked: { keys: Set<string>; result: Promise<Map<string, LineageEvent>> } | undefined;
  private migrated: Promise<void> | undefined;
  /** Shared state key -> its current event at the last sync: a fork that lost shows as a move off it. */
  private readonly held = new Map<string, LineageEvent>();
  private readonly mergeLineage: Lineage;
  private merging: Promise<void> = Promise.resolve();

  constructor(
    readonly roomId: string,
    private readonly ctx: RoomContext,
  ) {
    this.mergeLineage = new Lineage((id) => ctx.fetchEvent(id));
    if (this.merges) for (const [stateKey, e] of ctx.state()?.ofType(EVENT_TYPE) ?? []) this.hold(stateKey, e);
  }

  private get merges(): boolean {
    return this.ctx.mergeForks && sharesOneEvent(this.ctx.singleStateKey);
  }

  get encrypted(): boolean {
    return this.ctx.state()?.encryption() !== undefined;
  }

  /** The content of one state key as this process sees it (our queued writes included). */
  content(stateKey: string): Record<string, unknown> {
    return this.writers.get(stateKey)?.view() ?? this.synced(stateKey)?.content ?? {};
  }

  /** Look one key up without copying the content. */
  lookup(stateKey: string, key: string): { found: boolean; value: unknown } {
    const writer = this.writers.get(stateKey);
    if (writer) return writer.lookup(key);
    const content = this.synced(stateKey)?.content;
    return content && hasOwn(content, key) ? { found: true, value: content[key] } : { found: false, value: undefined };
  }

  /** State keys of `dev.opsdroid.database` events, synced or being written. */
  stateKeys(): string[] {
    const keys = new Set(this.ctx.state()?.ofType(EVENT_TYPE).keys() ?? []);
    for (const k of this.writers.keys()) keys.add(k);
    return [...keys];
  }

  writer(stateKey: string): StateKeyWriter {
    let w = this.writers.get(stateKey);
    if (!w) {
      const c = this.ctx;
      const ctx: WriterContext = {
        queue: c.queue,
        userId: c.userId,
        synced: (s) => this.synced(s),
        putState: (s, content) => c.putState(s, content),
        currentEvent: (s) => this.currentEvent(s),
        fetchEvent: (id) => c.fetchEvent(id),
        ...(c.linearReplacesState ? { linearReplacesState: () => c.linearReplacesState!() } : {}),
        settleMs: c.settleMs,
        shared: sharesOneEvent(c.singleStateKey),
        writeTimeoutMs: c.writeTimeoutMs,
        retryDelay: c.retryDelay,
        now: c.now,
        sleep: c.sleep,
        defer: c.defer,
        onError: c.onError,
      };
      w = new StateKeyWriter(stateKey, ctx);
      this.writers.set(stateKey, w);
    }
    return w;
  }

  /** Feed one sync response's timeline events for this room to the writers with writes to check. */
  onSync(timeline: readonly unknown[]): void {
    if (this.writers.size === 0 && !this.merges) return;
    const byKey = new Map<string, unknown[]>();
    for (const raw of timeline) {
      const e = raw as { type?: unknown; state_key?: unknown };
      if (e?.type !== EVENT_TYPE || typeof e.state_key !== "string") continue;
      let list = byKey.get(e.state_key);
      if (!list) byKey.set(e.state_key, (list = []));
      list.push(raw);
    }
    if (this.merges) this.checkForks(byKey);
    for (const [stateKey, w] of this.writers) if (!w.idle) w.onSync(byKey.get(stateKey) ?? []);
  }

  /**
   * Late forks (./fork-merge.ts): when the event we held is neither built on the new current event
   * nor an ancestor of it, it lost a fork, and its side's changes are merged back. A sibling seen
   * only in the timeline is not: it was never current here, so it lost at once, while its writer
   * was still checking its writes (which repair what the writer meant, and know its later ops: a
   * delete of a key the winner already lacks sends nothing and shows in no event; merged, that
   * sibling's value came back over it in the simulation, seed 933). After a heal, the other
   * server's events also arrive in batches, and one of them may have lost on its own side long ago.
   */
  private checkForks(byKey: ReadonlyMap<string, unknown[]>): void {
    const state = this.ctx.state();
    if (!state) return;
    const lineage = this.mergeLineage;
    if (lineage.size > MERGE_LINEAGE_EVENTS) lineage.clear();
    for (const [stateKey, raw] of state.ofType(EVENT_TYPE)) {
      const held = this.held.get(stateKey);
      const current = this.hold(stateKey, raw);
      // Only timeline copies carry `unsigned.replaces_state` for sure; the rest are fetched.
      const seen = (byKey.get(stateKey) ?? []).flatMap((r) => {
        const e = typeof (r as { unsigned?: unknown }).unsigned === "object" ? lineageEvent(r) : undefined;
        return e ? [e] : [];
      });
      for (const e of seen) lineage.remember(e);
      if (!current) continue;
      // Only the event we held (it was current here) is taken as a side that lost: see checkForks.
      const candidates = held && held.eventId !== current.eventId ? [held] : [];
      if (candidates.length === 0) continue;
      this.merging = this.merging
        .then(() => this.dropMootMerges(stateKey, current))
        .then(() => this.mergeFork(stateKey, current, candidates))
        .catch((e: unknown) => this.ctx.onError(e));
    }
  }

  /**
   * A merge still queued whose lost side is current again (the new current event is built on it) is
   * dropped: that side's later events carry its changes, or changed them on purpose. Sent later,
   * it put back a value the side's own writer had since replaced (simulation seed 1692).
   */
  private async dropMootMerges(stateKey: string, synced: LineageEvent): Promise<void> {
    const w = this.writers.get(stateKey);
    const queued = w?.queuedMerges() ?? [];
    if (!w || queued.length === 0) return;
    const lineage = this.mergeLineage;
    const moot = new Set<string>();
    for (const id of queued) {
      const lost = await lineage.get(id);
      if (lost && (await lineage.descends(synced.eventId, lost))) moot.add(id);
    }
    if (moot.size > 0) w.dropMerges(moot);
  }

  private async mergeFork(stateKey: string, synced: LineageEvent, candidates: LineageEvent[]): Promise<void> {
    const lineage = this.mergeLineage;
    const current = await lineage.get(synced.eventId);
    if (!current) return;
    const repairs = new Map<string, Repair>();
    // Oldest first: of two losing siblings that set one key, the later one's value is put back.
    const tips = (await lostTips(lineage, candidates, current)).sort((a, b) => a.ts - b.ts);
    for (const tip of tips) {
      const lost = await lineage.get(tip.eventId);
      for (const r of lost ? await planForkMerge(lineage, lost, current) : []) repairs.set(r.op.key, { ...r, lost: tip.eventId, against: current.eventId });
    }
    if (repairs.size === 0) return;
    // A lineage that cannot show forks shows false ones instead (docs/HOMESERVERS.md "Repairs on Dendrite"): no merge.
    if ((await this.ctx.linearReplacesState?.()) !== undefined) return;
    this.writer(stateKey).mergeFork([...repairs.values()]);
  }

  private hold(stateKey: string, raw: unknown): LineageEvent | undefined {
    const e = lineageEvent(raw);
    if (e) this.held.set(stateKey, e);
    else this.held.delete(stateKey);
    return e;
  }

  /** True when no writer has anything queued, in flight or unverified. */
  idleNow(): boolean {
    return [...this.writers.values()].every((w) => w.idle);
  }

  /** Resolves when every writer's accepted ops are verified on the homeserver (repairs included). */
  async verify(): Promise<void> {
    for (;;) {
      const busy = [...this.writers.values()].filter((w) => !w.idle);
      if (busy.length === 0) return;
      await Promise.all(busy.map((w) => w.verify()));
    }
  }

  /**
   * opsdroid's legacy migration (docs/OPSDROID.md "Legacy migration"), once per room and process:
   * copy each non-empty `opsdroid.database` event to `dev.opsdroid.database`, then redact it. A
   * failure is reported to the call that triggered it and not retried on later calls (opsdroid
   * retries on every call: weakness 11 in docs/OPSDROID.md "Weaknesses we fix").
   */
  migrate(): Promise<void> {
    this.migrated ??= this.runMigration();
    return this.migrated;
  }

  private async runMigration(): Promise<void> {
    const state = this.ctx.state();
    if (!state) return;
    const plan = planLegacyMigration(state.ofType(EVENT_TYPE), state.ofType(LEGACY_EVENT_TYPE), this.ctx.singleStateKey);
    try {
      for (const step of plan) {
        const w = this.writer(step.stateKey);
        await Promise.all(Object.entries(step.content).map(([key, value]) => w.enqueue({ kind: "put", key, value })));
        await this.ctx.redact(step.redacts);
      }
    } catch (e) {
      throw new MigrationError(this.roomId, e);
    }
  }

  /** The homeserver's current event for a state key; the checks of one flush share one request when there are many. */
  private currentEvent(stateKey: string): Promise<LineageEvent | undefined> {
    if (!this.asked) {
      const keys = new Set<string>();
      const result = new Promise<Map<string, LineageEvent>>((resolve, reject) =>
        this.ctx.defer(() => {
          this.asked = undefined;
          this.fetchCurrent([...keys]).then(resolve, reject);
        }),
      );
      this.asked = { keys, result };
    }
    this.asked.keys.add(stateKey);
    return this.asked.result.then((m) => m.get(stateKey));
  }

  private async fetchCurrent(keys: string[]): Promise<Map<string, LineageEvent>> {
    const out = new Map<string, LineageEvent>();
    if (keys.length <= FETCH_ONE_BY_ONE) {
      await Promise.all(
        keys.map(async (k) => {
          const e = await this.ctx.currentEvent(k);
          if (e) out.set(k, e);
        }),
      );
      return out;
    }
    const wanted = new Set(keys);
    for (const raw of await this.ctx.allState()) {
      const e = raw as { type?: unknown; state_key?: unknown };
      const ev = e?.type === EVENT_TYPE && typeof e.state_key === "string" ? lineageEvent(raw) : undefined;
      if (ev && wanted.has(e.state_key as string)) out.set(e.state_key as string, ev);
    }
    return out;
  }

  /** The synced event holding `stateKey`: who wrote it, when, which event (provenance for exports). */
  syncedEvent(stateKey: string): { sender: string; ts: number; eventId: string } | undefined {
    const e = this.ctx.state()?.get(EVENT_TYPE, stateKey);
    return e ? { sender: e.sender, ts: e.origin_server_ts, eventId: e.event_id } : undefined;
  }

  private synced(stateKey: string): StateHead | undefined {
    const e = this.ctx.state()?.get(EVENT_TYPE, stateKey);
    return e ? { eventId: e.event_id, content: e.content, ts: e.origin_server_ts } : undefined;
  }
}
