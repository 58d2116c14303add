/**
 * The memory: opsdroid's Matrix database API over a sync-fed picture of room state.
 * How a call travels: src/db/README.md.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import PQueue from "p-queue";
import { HttpClient } from "../http/client.js";
import { getEvent } from "../http/endpoints/events/get-event.js";
import { redact } from "../http/endpoints/events/redact.js";
import { putState } from "../http/endpoints/state/put-state.js";
import { fileTraceSink, type TraceSink } from "../http/trace.js";
import { systemClock, type Clock } from "../http/types.js";
import { FileStore } from "../store/file-store.js";
import { MemoryStore, type Store } from "../store/store.js";
import { SyncLoop } from "../sync/sync-loop.js";
import { LazyEncryption } from "./lazy-encryption.js";
import { EncryptionUnavailableError, EventTooLargeError, MemoryClosedError, UndecryptableValueError } from "./errors.js";
import { applyOps, cloneJson, EVENT_TYPE, isEncryptedRef, jsonEqual, stateKeyFor, type EncryptedRef, type SingleStateKey } from "./format.js";
import { checkOptions, type MemoryOptions, type ResolvedOptions } from "./options.js";
import { resolveRoom } from "./resolve-room.js";
import { RoomMemory } from "./room-memory.js";
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
  private closed = false;

  private constructor(init: { opts: ResolvedOptions; http: HttpClient; sync: SyncLoop; store: Store; clock: Clock; queue: PQueue; userId: string; deviceId: string | undefined }) {
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

  /** Log in (or check the token), load the store, sync once, and resolve the default room. */
  static async open(options: MemoryOptions): Promise<Memory> {
    const opts = checkOptions(options);
    const clock = opts.clock ?? systemClock;
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
    const http = new HttpClient({
      baseUrl: opts.homeserver,
      accessToken: opts.accessToken,
      transport: opts.transport,
      clock,
      // 429s are waited out and paced by the client's rate gate (src/http/rate-gate.ts), for all its requests.
      retry: opts.writeTimeoutMs === undefined ? opts.retry : { ...opts.retry, deadlineMs: opts.writeTimeoutMs },
      trace,
    });
    let memory: Memory | undefined;
    try {
      const session = await openSession(http, store, opts);
      // End-to-end encryption, loaded when needed (./lazy-encryption.ts): sees each /sync batch before its token is saved.
      const e2ee = new LazyEncryption(opts, { http, store, userId: session.userId, deviceId: session.deviceId }, (layer) => memory?.setCrypto(layer));
      const sync = new SyncLoop({
        http,
        userId: session.userId,
        store,
        clock,
        timeoutMs: opts.syncTimeoutMs,
        autoJoin: opts.autoJoin,
        stateAfter: opts.stateAfter,
        onError: opts.onError,
        beforeCommit: e2ee.beforeCommit,
        saveRooms,
      });
      e2ee.bind(sync);
      memory = new Memory({ opts, http, sync, store, clock, queue, userId: session.userId, deviceId: session.deviceId });
      memory.closers.push(...closers);
      const m = memory;
      sync.on("sync", (response) => m.onSync(response.rooms?.join ?? {}));
      sync.start();
      await Promise.race([sync.whenSynced(), sync.done.then(() => Promise.reject(new MemoryClosedError())), e2ee.failure]);
      await e2ee.ready();
      await memory.room(opts.defaultRoom);
      return memory;
    } catch (e) {
      if (memory) await memory.close().catch(() => undefined);
      else {
        await http.close();
        for (const c of closers) c();
      }
      throw e;
    }
  }

  /** The value of `key`, or undefined when absent. Served from the synced picture: no request. */
  async get(key: string): Promise<unknown> {
    this.assertOpen();
    validateKey(key, true);
    const room = await this.currentRoom();
    const { found, value } = room.lookup(stateKeyFor(this.singleStateKey, key), key);
    if (!found) return undefined;
    return isEncryptedRef(value) ? this.decrypt(room, key, value) : cloneJson(value);
  }

  /** Store `value` under `key`; resolves once the homeserver has accepted the write. */
  async put(key: string, value: unknown): Promise<void> {
    this.assertOpen();
    validateKey(key, this.singleStateKey);
    const room = await this.currentRoom();
    const encrypt = room.encrypted && this.opts.shouldEncrypt;
    validateValue(key, value, !encrypt);
    const stateKey = stateKeyFor(this.singleStateKey, key);
    const current = room.lookup(stateKey, key);
    if (current.found && !isEncryptedRef(current.value) && jsonEqual(current.value, value)) return;
    // Our own copy: the caller may change its object after this call.
    const copy = cloneJson(value);
    if (encrypt && !this.crypto) throw new EncryptionUnavailableError(room.roomId, "this memory has no encryption support enabled");
    this.checkSize(room, stateKey, key, encrypt ? { encrypted_val: `$${"x".repeat(43)}` } : copy);
    const stored = encrypt ? { encrypted_val: await this.crypto!.encryptValue(room.roomId, key, copy) } : copy;
    await room.writer(stateKey).enqueue({ kind: "put", key, value: stored });
  }

  /**
   * Remove one key (resolves to its value) or several (to their values, in order). Nothing is
   * written for keys that are absent.
   */
  async delete(key: string): Promise<unknown>;
  async delete(keys: string[]): Promise<unknown[]>;
  async delete(keyOrKeys: string | string[]): Promise<unknown> {
    this.assertOpen();
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
      values.push(isEncryptedRef(value) ? await this.decrypt(room, key, value).catch(() => undefined) : value);
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
          let value = c.value;
          if (isEncryptedRef(value) && room) value = await this.decrypt(room, c.key, value).catch((e: unknown) => e);
          yield { room: change.roomId, key: c.key, value, sender: change.event!.sender, eventId: change.event!.event_id };
        }
      }
    } finally {
      await changes.return?.();
    }
  }

  /** Resolves when every queued write has been accepted and seen back through sync (repairs included). */
  async flush(): Promise<void> {
    // Without a sync loop (it ended: a revoked token, close) no write can be confirmed any more:
    // then the writes the queue still holds are all there is to wait for.
    const syncEnded = this.sync.done.then(
      () => true,
      () => true,
    );
    for (;;) {
      const rooms = [...this.byId.values()];
      if (await Promise.race([Promise.all(rooms.map((r) => r.whenIdle())).then(() => false), syncEnded])) return this.queue.onIdle();
      if (rooms.every((r) => r.idleNow())) return;
    }
  }

  /** Drain the queue, stop syncing, release sockets and files. */
  async close(): Promise<void> {
    if (this.closed) return;
    try {
      if (this.sync.syncToken !== undefined) await this.flush();
    } finally {
      this.closed = true;
      await this.sync.stop();
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
      putState: async (stateKey, content) => (await this.http.send(putState, { roomId, eventType: EVENT_TYPE, stateKey, content })).event_id,
      fetchUnsigned: async (eventId) => (await this.http.send(getEvent, { roomId, eventId })).unsigned,
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
