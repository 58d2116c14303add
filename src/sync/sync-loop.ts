/**
 * The /sync long-poll loop. The order of steps, and why, is in ./README.md.
 * Spec: https://spec.matrix.org/v1.19/client-server-api/#syncing
 */
import type { HttpClient } from "../http/client.js";
import { join } from "../http/endpoints/rooms/join.js";
import * as z from "zod/mini";
import type { Endpoint } from "../http/endpoint.js";
import { sync, syncResponseSchema, type SyncArgs, type SyncResponse } from "../http/endpoints/sync/sync.js";
import { AbortedError, HttpError, isMatrixError, MatrixError, ResponseShapeError, TransportRefusedError } from "../http/errors.js";
import { backoffDelay } from "../http/retry.js";
import { fetchCapabilities, UnsupportedHomeserverError, type ServerCapabilities, type StateAfterOption } from "../http/capabilities.js";
import { systemClock, type Clock } from "../http/types.js";
import type { RoomState } from "../state/room-state.js";
import type { StateChange } from "../state/types.js";
import type { Store } from "../store/store.js";
import { planSync, saveRoom, type SyncPlan } from "./apply.js";
import { DELTA_PREFIX, deltaPrefix, deltaSeq, type SnapshotInfo } from "./snapshots.js";
import { isStateEvent } from "../state/types.js";
import { SyncTimeoutError } from "./errors.js";
import { loadRooms } from "./load.js";
import { fillGaps, settleForks } from "./settle.js";
import { sanitizeSyncReply } from "./sanitize.js";
import { ChangeStreams, type ChangeFilter } from "./change-stream.js";
import { ensureFilter } from "./filter.js";
import { STORE_KEYS } from "./store-keys.js";

export type { SyncResponse } from "../http/endpoints/sync/sync.js";

export interface SyncLoopOptions {
  http: HttpClient;
  userId: string;
  store: Store;
  clock?: Clock;
  /** Long-poll timeout sent to the server (ms); default 30000. */
  timeoutMs?: number;
  /** Join rooms we are invited to: all (true), none (false, the default), or those the function accepts. */
  autoJoin?: boolean | ((roomId: string, inviter?: string) => boolean);
  /**
   * "auto" (default): GET /versions once before the first sync and ask for state_after under the
   * name the server advertises, else use the classic algorithm (src/http/capabilities.ts).
   * "never" forces classic, "stable" / "unstable" force `use_state_after` / MSC4222's name.
   */
  stateAfter?: StateAfterOption;
  /** Already decided (Memory.open asks /versions itself): the loop then sends no /versions. */
  capabilities?: ServerCapabilities;
  /** Errors the loop recovers from (it backs off and tries again), listener errors, failed auto-joins. */
  onError?: (e: unknown) => void;
  /**
   * Called with each response before it is saved; the entries it returns are written in the same
   * atomic Store write as the token (the crypto layer saves its to-device results this way).
   */
  beforeCommit?: (response: SyncResponse) => Promise<Record<string, string | undefined> | void> | Record<string, string | undefined> | void;
  /**
   * Save room state snapshots with the token (default true). False for a store that dies with the
   * process, where snapshots are never read back and only cost time and memory.
   */
  saveRooms?: boolean;
  /** Back-off after errors: first delay and cap (ms). Defaults 500 and 30000. */
  backoff?: { baseDelayMs?: number; maxDelayMs?: number };
  /**
   * A /sync request with no answer after its long-poll timeout plus this margin (ms, default 15000)
   * is aborted as hung and retried. Runs on the Clock: Infinity turns it off (for a test clock whose
   * sleeps return at once).
   */
  deadlineMarginMs?: number;
  /** A 4xx client error (not 429) on this many tries in a row ends the loop with the last one (default 5). */
  maxClientErrors?: number;
}

/** /sync with only `next_batch` checked: malformed events are dropped (./sanitize.ts) before the full schema runs. */
const rawSync: Endpoint<SyncArgs, { next_batch: string }> = { ...sync, response: z.looseObject({ next_batch: z.string() }) };

type RoomEvent = "leave" | "join" | "invite";

/** The /sync parameter each path sends (none on the classic path). */
const STATE_AFTER_PARAM = { state_after: "stable", msc4222: "unstable", classic: undefined } as const;

type Listener = (arg: never) => void;

/**
 * Synapse answers a /sync that repeats a request of the last two minutes (same user, device,
 * since, filter and timeout) with the earlier reply, so a fresh process with the same token could
 * start from another process's old picture. An initial sync returns at once whatever its timeout
 * (the server has data to send), so a random one makes the request this process's own.
 */
function uniqueInitialTimeout(): number {
  return 1 + Math.floor(Math.random() * 29_999);
}

export class SyncLoop {
  readonly done: Promise<void>;
  private readonly opts: SyncLoopOptions;
  private readonly clock: Clock;
  private readonly timeoutMs: number;
  private readonly abort = new AbortController();
  private readonly streams = new ChangeStreams();
  private readonly listeners = new Map<string, Set<Listener>>();
  private roomMap: Map<string, RoomState> = new Map();
  /** How each room is saved in the Store (./snapshots.ts), as of the last write. */
  private snapshots = new Map<string, SnapshotInfo>();
  private token: string | undefined;
  private stateAfterSeen = false;
  private caps: ServerCapabilities | undefined;
  private appliedOnce = false;
  private started = false;
  private ended = false;
  private endError: unknown;
  private resolveDone!: () => void;
  private rejectDone!: (e: unknown) => void;
  private readonly synced: Promise<void>;
  private resolveSynced!: () => void;
  private rejectSynced!: (e: unknown) => void;
  private nextWaiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  /** Sync requests sent (for the idle-minute measurement and diagnostics). */
  requestCount = 0;

  constructor(opts: SyncLoopOptions) {
    this.opts = opts;
    this.clock = opts.clock ?? systemClock;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.done = new Promise((resolve, reject) => {
      this.resolveDone = resolve;
      this.rejectDone = reject;
    });
    this.synced = new Promise((resolve, reject) => {
      this.resolveSynced = resolve;
      this.rejectSynced = reject;
    });
    // Callers may never await these; a rejection must not crash the process.
    this.done.catch(() => undefined);
    this.synced.catch(() => undefined);
    this.caps = opts.capabilities;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.run().then(
      () => this.finish(undefined),
      (e: unknown) => this.finish(e),
    );
  }

  /** Abort the long-poll (or the back-off sleep) and resolve once the loop has ended. */
  async stop(): Promise<void> {
    if (!this.abort.signal.aborted) this.abort.abort(new AbortedError("sync loop stopped"));
    if (!this.started) this.finish(undefined);
    await this.done.catch(() => undefined);
  }

  room(roomId: string): RoomState | undefined {
    return this.roomMap.get(roomId);
  }

  rooms(): ReadonlyMap<string, RoomState> {
    return this.roomMap;
  }

  /** The `next_batch` whose state is applied and saved. */
  get syncToken(): string | undefined {
    return this.token;
  }

  /** What /versions said and the sync path chosen from it; undefined until the loop has asked. */
  get capabilities(): ServerCapabilities | undefined {
    return this.caps;
  }

  /** The error the loop ended with (a revoked token, a persistent 4xx, a damaged store); undefined while it runs or after stop(). */
  get failure(): unknown {
    return this.ended ? this.endError : undefined;
  }

  /** Resolves after the first complete sync: state loaded from the Store and one /sync applied. */
  whenSynced(): Promise<void> {
    return this.synced;
  }

  /** Resolves after the next /sync response has been applied and saved. */
  nextSync(): Promise<void> {
    if (this.ended) return Promise.reject(this.endError ?? new AbortedError("sync loop stopped"));
    return new Promise((resolve, reject) => this.nextWaiters.push({ resolve, reject }));
  }

  changes(filter?: ChangeFilter): AsyncIterableIterator<StateChange> {
    return this.streams.open(filter);
  }

  on(event: "change", cb: (c: StateChange) => void): () => void;
  on(event: "sync", cb: (response: SyncResponse) => void): () => void;
  on(event: RoomEvent, cb: (roomId: string) => void): () => void;
  on(event: string, cb: (arg: never) => void): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(cb);
    return () => {
      set.delete(cb);
    };
  }

  // 1. Load the saved picture and token; 2. get the filter; 3. long-poll, apply, save, notify; repeat.
  private async run(): Promise<void> {
    const signal = this.abort.signal;
    await this.load();
    let filterId: string | undefined;
    let failures = 0;
    let clientErrors = 0;
    while (!signal.aborted) {
      try {
        this.caps ??= await fetchCapabilities(this.opts.http, this.opts.stateAfter, signal);
        filterId ??= await ensureFilter(this.opts.http, this.opts.store, this.opts.userId, undefined, signal);
        const initial = this.token === undefined;
        // The first sync after start() catches up at once (whenSynced must not wait out a
        // long-poll in an idle room); later ones wait on the server for news.
        const value = await this.request(filterId, this.appliedOnce ? this.timeoutMs : 0, signal);
        await this.commit(value, initial);
        failures = 0;
        clientErrors = 0;
      } catch (e) {
        if (signal.aborted) return;
        // The access token is gone: looping cannot help. soft_logout says whether the device survives.
        if (isMatrixError(e, "M_UNKNOWN_TOKEN") || isMatrixError(e, "M_MISSING_TOKEN")) throw e;
        // The runtime refuses the request (no network permission): it will refuse the next one too.
        if (e instanceof TransportRefusedError) throw e;
        // The server lacks what the loop needs: waiting will not add it.
        if (e instanceof UnsupportedHomeserverError) throw e;
        // A client error that keeps coming back (a bad filter, a forbidden request) will not heal by waiting.
        clientErrors = isClientError(e) ? clientErrors + 1 : 0;
        if (clientErrors >= (this.opts.maxClientErrors ?? 5)) throw e;
        this.report(e);
        const delay =
          isMatrixError(e) && e.status === 429 && e.retryAfterMs !== undefined
            ? e.retryAfterMs
            : backoffDelay(failures++, { baseDelayMs: this.opts.backoff?.baseDelayMs ?? 500, maxDelayMs: this.opts.backoff?.maxDelayMs ?? 30_000 });
        try {
          await this.clock.sleep(delay, signal);
        } catch {
          return;
        }
      }
    }
  }

  /** The token and its snapshots (./load.ts); a token whose snapshots are missing is dropped: full initial sync. */
  private async load(): Promise<void> {
    const loaded = await loadRooms(this.opts.store, this.opts.saveRooms !== false);
    this.token = loaded.token;
    this.roomMap = loaded.rooms;
    this.snapshots = loaded.snapshots;
    if (loaded.gap) this.report(loaded.gap);
  }

  /** One /sync request, with a deadline of the long-poll timeout plus a margin on the Clock. */
  private async request(filterId: string, wait: number, signal: AbortSignal): Promise<SyncResponse> {
    // An initial sync is answered at once whatever its timeout: a random one makes it this process's own request.
    const timeout = this.token === undefined ? uniqueInitialTimeout() : wait;
    const args = { filter: filterId, since: this.token, timeout, set_presence: "offline" as const, stateAfter: STATE_AFTER_PARAM[this.caps!.syncPath] };
    const margin = this.opts.deadlineMarginMs ?? 15_000;
    const deadlineMs = wait + margin;
    const request = new AbortController();
    const timer = new AbortController();
    const stop = () => request.abort(signal.reason);
    signal.addEventListener("abort", stop, { once: true });
    let timedOut = false;
    if (Number.isFinite(margin)) {
      this.clock.sleep(deadlineMs, timer.signal).then(
        () => {
          timedOut = true;
          request.abort(new SyncTimeoutError(deadlineMs));
        },
        () => undefined,
      );
    }
    this.requestCount++;
    let answer;
    try {
      answer = await this.opts.http.call(rawSync, args, { signal: request.signal, retry: false });
    } catch (e) {
      if (timedOut && !signal.aborted) throw new SyncTimeoutError(deadlineMs);
      throw e;
    } finally {
      timer.abort();
      signal.removeEventListener("abort", stop);
    }
    // Malformed events are left out and reported; the rest of the reply is applied.
    const { body, dropped } = sanitizeSyncReply(answer.value);
    for (const d of dropped) this.report(d);
    const parsed = syncResponseSchema.safeParse(body);
    if (!parsed.success) throw new ResponseShapeError(parsed.error.issues, answer.raw, "GET", "/sync");
    return parsed.data;
  }

  /** Apply one response: plan, save (token and snapshots in one atomic write), swap in, notify. */
  private async commit(response: SyncResponse, initial: boolean): Promise<void> {
    const plan = planSync(this.roomMap, response, { initial, stateAfterExpected: this.stateAfterSeen, userId: this.opts.userId, saveRooms: this.opts.saveRooms, snapshots: this.snapshots });
    if (initial) {
      // Snapshots left from an earlier token we no longer have.
      for (const key of await this.opts.store.keys(STORE_KEYS.roomPrefix)) {
        if (!(key in plan.entries) && !plan.rooms.has(key.slice(STORE_KEYS.roomPrefix.length))) plan.entries[key] = undefined;
      }
      for (const key of await this.opts.store.keys(DELTA_PREFIX)) if (!plan.rooms.has(key.slice(DELTA_PREFIX.length, key.lastIndexOf("/")))) plan.entries[key] = undefined;
    }
    const ask = { http: this.opts.http, signal: this.abort.signal, held: (roomId: string) => this.roomMap.get(roomId), report: (e: unknown) => this.report(e), saveRooms: this.opts.saveRooms !== false };
    await fillGaps(plan, ask);
    await settleForks(plan, ask);
    // Deltas a new base (or a dropped room) leaves behind go in the same write.
    for (const roomId of plan.rewritten) {
      const from = plan.snapshots.get(roomId)?.deltaFrom ?? Infinity;
      for (const key of await this.opts.store.keys(deltaPrefix(roomId))) if (deltaSeq(key) < from) plan.entries[key] = undefined;
    }
    const extra = await this.opts.beforeCommit?.(response);
    await this.opts.store.setMany(extra ? { ...extra, ...plan.entries } : plan.entries);
    this.roomMap = plan.rooms;
    this.snapshots = plan.snapshots;
    this.token = response.next_batch;
    if (plan.sawStateAfter) this.stateAfterSeen = true;

    for (const roomId of plan.joined) this.emit("join", roomId);
    for (const c of plan.changes) {
      this.streams.push(c);
      this.emit("change", c);
    }
    for (const roomId of plan.left) this.emit("leave", roomId);
    for (const { roomId } of plan.invited) this.emit("invite", roomId);
    this.emit("sync", response);
    this.appliedOnce = true;
    this.resolveSynced();
    const waiters = this.nextWaiters;
    this.nextWaiters = [];
    for (const w of waiters) w.resolve();
    for (const { roomId, inviter } of plan.invited) await this.maybeJoin(roomId, inviter);
  }


  private async maybeJoin(roomId: string, inviter: string | undefined): Promise<void> {
    const rule = this.opts.autoJoin ?? false;
    if (!(typeof rule === "function" ? rule(roomId, inviter) : rule)) return;
    try {
      await this.opts.http.send(join, { roomIdOrAlias: roomId }, { signal: this.abort.signal });
    } catch (e) {
      if (!this.abort.signal.aborted) this.report(e);
    }
  }

  private emit(event: string, arg: unknown): void {
    for (const cb of this.listeners.get(event) ?? []) {
      try {
        (cb as (a: unknown) => void)(arg);
      } catch (e) {
        this.report(e);
      }
    }
  }

  private report(e: unknown): void {
    try {
      this.opts.onError?.(e);
    } catch {
      // An error handler that throws must not end the loop.
    }
  }

  private finish(error: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.endError = error;
    this.streams.close();
    const reason = error ?? new AbortedError("sync loop stopped");
    this.rejectSynced(reason);
    for (const w of this.nextWaiters) w.reject(reason);
    this.nextWaiters = [];
    if (error === undefined) this.resolveDone();
    else this.rejectDone(error);
  }
}


/** A 4xx answer other than 429 (which is backpressure, not a refusal). */
function isClientError(e: unknown): boolean {
  return (e instanceof MatrixError || e instanceof HttpError) && e.status >= 400 && e.status < 500 && e.status !== 429;
}
