/**
 * The memory: opsdroid's Matrix database API over a sync-fed picture of room state.
 * How a call travels: src/db/README.md.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import PQueue from "p-queue";
import { HttpClient } from "../http/client.js";
import { getEvent } from "../http/endpoints/events/get-event.js";
import { getStateEvent } from "../http/endpoints/state/get-state.js";
import { getAllState } from "../http/endpoints/state/get-all-state.js";
import { AbortedError, HttpError, isMatrixError, MatrixError, TransportError } from "../http/errors.js";
import { backoffDelay, DEFAULT_RETRY, RETRYABLE_STATUS, type RetryPolicy } from "../http/retry.js";
import { redact } from "../http/endpoints/events/redact.js";
import { putState } from "../http/endpoints/state/put-state.js";
import { fileTraceSink, type TraceSink } from "../http/trace.js";
import { systemClock, type Clock } from "../http/types.js";
import { FileStore } from "../store/file-store.js";
import { MemoryStore, type Store } from "../store/store.js";
import { SyncLoop } from "../sync/sync-loop.js";
import { LazyEncryption } from "./lazy-encryption.js";
import { lineageEvent, type LineageEvent } from "./lineage.js";
import { EncryptionUnavailableError, EventTooLargeError, MemoryClosedError, OpenTimeoutError, UndecryptableValueError } from "./errors.js";
import { applyOps, cloneJson, EVENT_TYPE, isEncryptedRef, jsonEqual, stateKeyFor, type EncryptedRef, type SingleStateKey } from "./format.js";
import { checkOptions, type MemoryOptions, type ResolvedOptions } from "./options.js";
import { resolveRoom } from "./resolve-room.js";
import { RoomMemory } from "./room-memory.js";
import { PendingValue } from "./writer.js";
import { openSession } from "./session.js";
import { estimateEventSize, MAX_EVENT_BYTES } from "./size.js";
import { validateKey, validateValue } from "./validate.js";
import { keyChanges, type MemoryChange } from "./watch.js";

export type { MemoryOptions } from "./options.js";
export type { MemoryChange } from "./watch.js";

/**
 * Encrypted values (issue: end-to-end encryption): sends a value as an encrypted room event and
 * reads one back. Absent until the crypto layer is wired in.
 */
export interface ValueCrypto {
  encryptValue(roomId: string, key: string, value: unknown): Promise<string>;
  decryptValue(roomId: string, key: string, eventId: string): Promise<unknown>;
  close(): Promise<void>;
}

/** Memory.open's default time limit: a first sync of a large account takes tens of seconds. */
export const DEFAULT_OPEN_TIMEOUT_MS = 120_000;

export class Memory {
  readonly userId: string;
  readonly deviceId: string | undefined;
  /** The state key mode in force (opsdroid's single_state_key). */
  readonly singleStateKey: SingleStateKey;
  private readonly opts: ResolvedOptions;
  private readonly http: HttpClient;
  private readonly sync: SyncLoop;
  private readonly store: Store;
  private readonly clock: Clock;
  private readonly queue: PQueue;
  private readonly roomScope = new AsyncLocalStorage<string>();
  private readonly resolved = new Map<string, RoomMemory>();
  private readonly resolving = new Map<string, Promise<RoomMemory>>();
  private readonly byId = new Map<string, RoomMemory>();
  private readonly closers: Array<() => unknown> = [];
  private crypto: ValueCrypto | undefined;
  private readonly lifetime: AbortController;
  private closed = false;

  private constructor(init: { opts: ResolvedOptions; http: HttpClient; sync: SyncLoop; store: Store; clock: Clock; queue: PQueue; lifetime: AbortController; userId: string; deviceId: string | undefined }) {
    this.lifetime = init.lifetime;
    this.opts = init.opts;
    this.http = init.http;
    this.sync = init.sync;
    this.store = init.store;
    this.clock = init.clock;
    this.queue = init.queue;
    this.userId = init.userId;
    this.deviceId = init.deviceId;
    this.singleStateKey = init.opts.singleStateKey;
  }

  /**
   * Log in (or check the token), load the store, sync once, and resolve the default room. Gives up
   * after `timeoutMs` (OpenTimeoutError) or when `signal` aborts (AbortedError); either way the sync
   * loop is stopped and every request of this memory aborted before the promise rejects.
   */
  static async open(options: MemoryOptions): Promise<Memory> {
    const opts = checkOptions(options);
    const clock = opts.clock ?? systemClock;
    if (opts.signal?.aborted) throw new AbortedError(opts.signal.reason);
    const closers: Array<() => unknown> = [];
    const store = typeof opts.store === "string" ? new FileStore(opts.store) : (opts.store ?? new MemoryStore());
    // Our own in-memory store dies with the process: room snapshots would never be read back.
    const saveRooms = opts.store !== undefined;
    let trace: TraceSink | undefined;
    if (typeof opts.trace === "string") {
      const sink = fileTraceSink(opts.trace);
      closers.push(() => sink.close());
      trace = sink;
    } else trace = opts.trace;
    const queue = new PQueue({ concurrency: opts.writeConcurrency ?? 32 });
    // Aborts every request of this memory: a failed open, and close() once the queue has drained.
    const lifetime = new AbortController();
    const http = new HttpClient({
      baseUrl: opts.homeserver,
      accessToken: opts.accessToken,
      transport: opts.transport,
      clock,
      // 429s are waited out and paced by the client's rate gate (src/http/rate-gate.ts), for all its requests.
      retry: retryPolicy(opts),
      trace,
      signal: lifetime.signal,
    });
    let memory: Memory | undefined;
    let sync: SyncLoop | undefined;
    const steps = (async () => {
      const session = await openSession(http, store, opts);
      // End-to-end encryption, loaded when needed (./lazy-encryption.ts): sees each /sync batch before its token is saved.
      const e2ee = new LazyEncryption(opts, { http, store, userId: session.userId, deviceId: session.deviceId }, (layer) => memory?.setCrypto(layer));
      sync = new SyncLoop({
        http,
        userId: session.userId,
        store,
        clock,
        timeoutMs: opts.syncTimeoutMs,
        deadlineMarginMs: opts.syncDeadlineMarginMs,
        autoJoin: opts.autoJoin,
        stateAfter: opts.stateAfter,
        onError: opts.onError,
        beforeCommit: e2ee.beforeCommit,
        saveRooms,
      });
      e2ee.bind(sync);
      memory = new Memory({ opts, http, sync, store, clock, queue, lifetime, userId: session.userId, deviceId: session.deviceId });
      memory.closers.push(...closers);
      const m = memory;
      sync.on("sync", (response) => m.onSync(response.rooms?.join ?? {}));
      sync.start();
      const loop = sync;
      // The loop's own error (a damaged store, a persistent 4xx) is what open fails with.
      await Promise.race([loop.whenSynced(), loop.done.then(() => Promise.reject(loop.failure ?? new MemoryClosedError())), e2ee.failure]);
      await e2ee.ready();
      await memory.room(opts.defaultRoom);
      return memory;
    })();
    const timer = new AbortController();
    const limits: Promise<never>[] = [];
    const timeoutMs = opts.timeoutMs ?? DEFAULT_OPEN_TIMEOUT_MS;
    if (Number.isFinite(timeoutMs)) limits.push(clock.sleep(timeoutMs, timer.signal).then(() => Promise.reject(new OpenTimeoutError(timeoutMs))));
    const abort = () => timer.abort(new AbortedError(opts.signal!.reason));
    opts.signal?.addEventListener("abort", abort, { once: true });
    if (opts.signal) limits.push(new Promise<never>((_, reject) => timer.signal.addEventListener("abort", () => reject(timer.signal.reason as unknown), { once: true })));
    try {
      return await Promise.race([steps, ...limits]);
    } catch (e) {
      // Stop everything open started, then wait for it to unwind: nothing of it may outlive the rejection.
      lifetime.abort(e);
      await (sync as SyncLoop | undefined)?.stop();
      await steps.catch(() => undefined);
      await (memory as Memory | undefined)?.crypto?.close().catch(() => undefined);
      await http.close();
      await (store as Store).close?.().catch(() => undefined);
      for (const c of closers) c();
      if (memory) (memory as Memory).closed = true;
      throw e;
    } finally {
      opts.signal?.removeEventListener("abort", abort);
      if (!timer.signal.aborted) timer.abort();
    }
  }

  /** The value of `key`, or undefined when absent. Served from the synced picture: no request. */
  async get(key: string): Promise<unknown> {
    this.assertOpen();
    validateKey(key, true);
    const room = await this.currentRoom();
    const { found, value } = room.lookup(stateKeyFor(this.singleStateKey, key), key);
    if (!found) return undefined;
    if (value instanceof PendingValue) return cloneJson(value.plaintext);
    // A copy either way: the crypto layer may cache what it decrypted.
    return cloneJson(isEncryptedRef(value) ? await this.decrypt(room, key, value) : value);
  }

  /** Store `value` under `key`; resolves once the homeserver has accepted the write. */
  async put(key: string, value: unknown): Promise<void> {
    this.assertOpen();
    this.assertSyncing();
    validateKey(key, this.singleStateKey);
    const room = await this.currentRoom();
    const encrypt = room.encrypted && this.opts.shouldEncrypt;
    validateValue(key, value, !encrypt);
    const stateKey = stateKeyFor(this.singleStateKey, key);
    const current = room.lookup(stateKey, key);
    if (current.found && !isEncryptedRef(current.value) && !(current.value instanceof PendingValue) && jsonEqual(current.value, value)) return;
    // Our own copy: the caller may change its object after this call.
    const copy = cloneJson(value);
    if (encrypt && !this.crypto) throw new EncryptionUnavailableError(room.roomId, "this memory has no encryption support enabled");
    const standIn = { encrypted_val: `$${"x".repeat(43)}` };
    this.checkSize(room, stateKey, key, encrypt ? standIn : copy);
    if (!encrypt) return room.writer(stateKey).enqueue({ kind: "put", key, value: copy });
    // Queued now, so call order and read-your-writes hold; the PUT waits for the reference.
    const ref = this.crypto!.encryptValue(room.roomId, key, copy).then((eventId) => ({ encrypted_val: eventId }));
    return room.writer(stateKey).enqueue({ kind: "put", key, value: new PendingValue(copy, standIn) }, ref);
  }

  /**
   * Remove one key (resolves to its value) or several (to their values, in order). Nothing is
   * written for keys that are absent.
   */
  async delete(key: string): Promise<unknown>;
  async delete(keys: string[]): Promise<unknown[]>;
  async delete(keyOrKeys: string | string[]): Promise<unknown> {
    this.assertOpen();
    this.assertSyncing();
    const keys = Array.isArray(keyOrKeys) ? keyOrKeys : [keyOrKeys];
    for (const k of keys) validateKey(k, true);
    const room = await this.currentRoom();
    const values: unknown[] = [];
    const writes: Promise<void>[] = [];
    for (const key of keys) {
      const stateKey = stateKeyFor(this.singleStateKey, key);
      const { found, value } = room.lookup(stateKey, key);
      if (!found) {
        values.push(undefined);
        continue;
      }
      if (value instanceof PendingValue) values.push(cloneJson(value.plaintext));
      // A copy: `value` is the synced event's content (or a queued write), which the caller must not reach.
      else values.push(cloneJson(isEncryptedRef(value) ? await this.decrypt(room, key, value).catch(() => undefined) : value));
      writes.push(room.writer(stateKey).enqueue({ kind: "delete", key }));
    }
    await Promise.all(writes);
    return Array.isArray(keyOrKeys) ? values : values[0];
  }

  /** Every key in the current room. */
  async keys(): Promise<string[]> {
    this.assertOpen();
    const room = await this.currentRoom();
    const out = new Set<string>();
    for (const s of room.stateKeys()) for (const k of Object.keys(room.content(s))) out.add(k);
    return [...out].sort();
  }

  /** The whole memory of the current room as one object (encrypted values decrypted). */
  async dump(): Promise<Record<string, unknown>> {
    const out: Record<string, unknown> = {};
    for (const key of await this.keys()) out[key] = await this.get(key);
    return out;
  }

  /**
   * Run `fn` with another room as the current one (opsdroid's memory_in_room). The room is scoped
   * to `fn`'s async context, so concurrent tasks in different rooms never see each other's room.
   */
  async inRoom<T>(room: string, fn: () => Promise<T> | T): Promise<T> {
    this.assertOpen();
    await this.room(room);
    return this.roomScope.run(room, fn);
  }

  /** Live changes to the memory (every room, or `room`), other writers' included, until `return()`. */
  async *watch(options: { room?: string } = {}): AsyncGenerator<MemoryChange, void, undefined> {
    this.assertOpen();
    const roomId = options.room === undefined ? undefined : (await this.room(options.room)).roomId;
    const changes = this.sync.changes({ type: EVENT_TYPE, ...(roomId ? { roomId } : {}) });
    try {
      for await (const change of changes) {
        const room = this.byId.get(change.roomId);
        for (const c of keyChanges(change)) {
          // A copy: c.value is inside the synced state event, which later reads and writes start from.
          let value = cloneJson(c.value);
          if (isEncryptedRef(value) && room) value = await this.decrypt(room, c.key, value).then(cloneJson, (e: unknown) => e);
          yield { room: change.roomId, key: c.key, value, sender: change.event!.sender, eventId: change.event!.event_id };
        }
      }
    } finally {
      await changes.return?.();
    }
  }

  /**
   * Resolves when every write queued so far has been accepted and verified on the homeserver's
   * current state, repairs included (docs/DURABILITY.md): after that, the process may exit.
   * Rejects when a write, a check or a repair failed.
   */
  async flush(): Promise<void> {
    for (;;) {
      const rooms = [...this.byId.values()];
      await Promise.all(rooms.map((r) => r.verify()));
      if (rooms.every((r) => r.idleNow()) && this.byId.size === rooms.length) return;
    }
  }

  /** Drain the queue, stop syncing, release sockets and files. */
  async close(): Promise<void> {
    if (this.closed) return;
    try {
      if (this.sync.syncToken !== undefined) await this.flush();
    } catch (e) {
      // A dead sync loop is no reason for close() to fail: it was reported by flush and the writes.
      if (e !== this.sync.failure) throw e;
    } finally {
      this.closed = true;
      await this.sync.stop();
      // The queue has drained: whatever is still in flight (a hung request) must not hold close() or the sockets.
      this.lifetime.abort(new MemoryClosedError());
      await this.crypto?.close();
      await this.http.close();
      await this.store.close?.();
      for (const c of this.closers) c();
    }
  }

  /** @internal Wire the crypto layer in (src/db/encryption.ts). */
  setCrypto(crypto: ValueCrypto): void {
    this.crypto = crypto;
  }

  /** The resolved room for a name, alias or ID (joined if needed, legacy data migrated). */
  private room(ref: string): Promise<RoomMemory> {
    const done = this.resolved.get(ref);
    if (done) return Promise.resolve(done);
    let pending = this.resolving.get(ref);
    if (!pending) {
      pending = (async () => {
        const roomId = await resolveRoom(ref, this.opts.rooms, this.http, this.sync, this.userId);
        let room = this.byId.get(roomId);
        if (!room) {
          room = this.newRoom(roomId);
          this.byId.set(roomId, room);
        }
        this.resolved.set(ref, room);
        return room;
      })().finally(() => this.resolving.delete(ref));
      this.resolving.set(ref, pending);
    }
    return pending.then(async (room) => {
      await room.migrate();
      return room;
    });
  }

  private currentRoom(): Promise<RoomMemory> {
    return this.room(this.roomScope.getStore() ?? this.opts.defaultRoom);
  }

  private newRoom(roomId: string): RoomMemory {
    return new RoomMemory(roomId, {
      queue: this.queue,
      userId: this.userId,
      singleStateKey: this.singleStateKey,
      state: () => this.sync.room(roomId),
      // One attempt each: the writer rebuilds a failed write on its freshest picture (writer.ts).
      putState: async (stateKey, content) => (await this.http.send(putState, { roomId, eventType: EVENT_TYPE, stateKey, content }, { retry: false })).event_id,
      retryDelay: (e, attempt) => writeRetryDelay(e, attempt, retryPolicy(this.opts)),
      writeTimeoutMs: retryPolicy(this.opts).deadlineMs,
      currentEvent: (stateKey) => notFoundAsUndefined(async () => lineageEvent(await this.http.send(getStateEvent, { roomId, eventType: EVENT_TYPE, stateKey }))),
      allState: () => this.http.send(getAllState, { roomId }),
      fetchEvent: (eventId) => notFoundAsUndefined(async () => lineageEvent(await this.http.send(getEvent, { roomId, eventId }))),
      settleMs: this.opts.settleMs ?? DEFAULT_SETTLE_MS,
      sleep: (ms) => this.clock.sleep(ms),
      onError: (e) => this.opts.onError?.(e),
      redact: async (eventId) => {
        await this.http.send(redact, { roomId, eventId, txnId: this.http.txnId() });
      },
      defer: (fn) => setImmediate(fn),
      now: () => this.clock.now(),
    });
  }

  private onSync(joined: Record<string, { timeline?: { events?: unknown[] } }>): void {
    for (const [roomId, room] of this.byId) {
      room.onSync(joined[roomId]?.timeline?.events ?? []);
    }
  }

  private checkSize(room: RoomMemory, stateKey: string, key: string, stored: unknown): void {
    const content = applyOps(room.content(stateKey), [{ kind: "put", key, value: stored }]);
    const size = estimateEventSize({ roomId: room.roomId, sender: this.userId, type: EVENT_TYPE, stateKey, content });
    if (size > MAX_EVENT_BYTES) throw new EventTooLargeError(key, size, MAX_EVENT_BYTES, this.singleStateKey);
  }

  private async decrypt(room: RoomMemory, key: string, ref: EncryptedRef): Promise<unknown> {
    if (!this.crypto) throw new UndecryptableValueError(key, room.roomId, ref.encrypted_val, "this memory has no encryption support enabled");
    return this.crypto.decryptValue(room.roomId, key, ref.encrypted_val);
  }

  private assertOpen(): void {
    if (this.closed) throw new MemoryClosedError();
  }

  /** A write on a picture that no longer moves could never be checked: refuse it with the loop's error. */
  private assertSyncing(): void {
    if (this.sync.failure !== undefined) throw this.sync.failure;
  }
}

/** How long a write forked off the same parent as ours can take to land (docs/DURABILITY.md). */
const DEFAULT_SETTLE_MS = 1000;

/** One retry policy for the HTTP client and the writer's own retries: `writeTimeoutMs` is its deadline. */
function retryPolicy(opts: ResolvedOptions): RetryPolicy {
  return { ...DEFAULT_RETRY, ...opts.retry, ...(opts.writeTimeoutMs === undefined ? {} : { deadlineMs: opts.writeTimeoutMs }) };
}

/** Rate limited (the server did nothing), no answer, or a gateway error: write again after this delay. */
function writeRetryDelay(e: unknown, attempt: number, policy: RetryPolicy): number | undefined {
  const status = e instanceof MatrixError || e instanceof HttpError ? e.status : undefined;
  // The client's rate gate holds the next try until the server's delay has passed (src/http/rate-gate.ts).
  if (status === 429) return 0;
  if (e instanceof TransportError || (status !== undefined && RETRYABLE_STATUS.has(status))) return backoffDelay(attempt, policy);
  return undefined;
}

/** A 404 (no such state or event) is an answer, not a failure. */
async function notFoundAsUndefined(fn: () => Promise<LineageEvent | undefined>): Promise<LineageEvent | undefined> {
  try {
    return await fn();
  } catch (e) {
    if (isMatrixError(e, "M_NOT_FOUND")) return undefined;
    throw e;
  }
}

/**
 * opsdroid's `memory_in_event_room`: wrap a handler so the memory inside it uses the room the
 * message came from (`message.target`, a room ID).
 */
export function memoryInEventRoom<M extends { target: string }, A extends unknown[], R>(
  db: Memory,
  handler: (message: M, ...rest: A) => Promise<R> | R,
): (message: M, ...rest: A) => Promise<R> {
  return (message, ...rest) => db.inRoom(message.target, () => handler(message, ...rest));
}
