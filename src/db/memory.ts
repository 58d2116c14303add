/**
 * The memory: opsdroid's Matrix database API over a sync-fed picture of room state.
 * How a call travels: src/db/README.md.
 */
import type PQueue from "p-queue";
import type { ServerCapabilities } from "../http/capabilities.js";
import type { HttpClient } from "../http/client.js";
import type { Clock } from "../http/types.js";
import type { Store } from "../store/store.js";
import type { SyncLoop } from "../sync/sync-loop.js";
import { MemoryClosedError, RoomScopeUnavailableError, UndecryptableValueError } from "./errors.js";
import { cloneJson, EVENT_TYPE, isEncryptedRef, jsonEqual, stateKeyFor, type EncryptedRef, type SingleStateKey } from "./format.js";
import { openMemory, roomScope, type MemoryParts, type RoomScope } from "./open.js";
import type { MemoryOptions, ResolvedOptions } from "./options.js";
import { resolveRoom } from "./resolve-room.js";
import { RoomHandle } from "./room-handle.js";
import type { RoomMemory } from "./room-memory.js";
import { historySource, newRoomMemory, roomRequests } from "./room-requests.js";
import { auditRoom, type AuditEntry } from "./audit.js";
import { PendingValue } from "./writer.js";
import type { EventSizer } from "./content-size.js";
import { validateKey, validateValue } from "./validate.js";
import type { ValueCrypto } from "./value-crypto.js";
import { keyChanges, type MemoryChange } from "./watch.js";
import { isMediaRef, mediaReferences, MediaValues, type MediaReference } from "./media-values.js";
import { keyHistory, type HistoryOptions, type HistorySource, type KeyVersion } from "./history.js";
import { valueAt, type ValueAt } from "./history-at.js";
import { placeValue, type PlaceContext } from "./place-value.js";
import { putAll, type PutAllOptions } from "./put-all.js";
import { Recovery } from "./recovery.js";
import { CrossSigning } from "./cross-signing.js";

/** One key of Memory.entries(): the value and the state event that holds it. */
export interface MemoryEntry {
  key: string;
  value: unknown;
  sender: string;
  ts: number;
  eventId: string;
}

export { DEFAULT_OPEN_TIMEOUT_MS } from "./open.js";

export class Memory {
  readonly userId: string;
  readonly deviceId: string | undefined;
  /** The state key mode in force (opsdroid's single_state_key). */
  readonly singleStateKey: SingleStateKey;
  /** What the homeserver's /versions said and the sync path and media endpoints chosen from it (docs/HOMESERVERS.md "Capabilities"). */
  readonly capabilities: ServerCapabilities;
  private readonly opts: ResolvedOptions;
  private readonly http: HttpClient;
  private readonly sync: SyncLoop;
  private readonly store: Store;
  private readonly clock: Clock;
  private readonly queue: PQueue;
  /** inRoom's current room per async context: set by the first inRoom, where the runtime has AsyncLocalStorage. */
  private roomScope: RoomScope | undefined;
  private scopeReady: Promise<RoomScope | undefined> | undefined;
  private readonly resolved = new Map<string, RoomMemory>();
  private readonly resolving = new Map<string, Promise<RoomMemory>>();
  private readonly byId = new Map<string, RoomMemory>();
  private readonly closers: Array<() => unknown>;
  private crypto: ValueCrypto | undefined;
  /** Values too large for an event, in the media repository (./media-values.ts). */
  private readonly media: MediaValues;
  private readonly sizers = new Map<string, EventSizer>();
  private readonly lifetime: AbortController;
  private closed = false;
  /** The recovery key and the server-side key backup (./recovery.ts). */
  readonly recovery: Recovery;
  /** Our cross-signing keys and devices (./cross-signing.ts). */
  readonly crossSigning: CrossSigning;

  private constructor(init: MemoryParts) {
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
    this.closers = init.closers;
    this.capabilities = init.capabilities;
    this.media = new MediaValues(init.http, init.capabilities.media === "legacy");
    this.recovery = new Recovery(init.crypto);
    this.crossSigning = new CrossSigning(init.crypto);
  }

  /**
   * Log in (or check the token), load the store, sync once, and resolve the default room
   * (./open.ts builds the parts). Gives up after `timeoutMs` (OpenTimeoutError) or when `signal`
   * aborts (AbortedError), with nothing of it left running.
   */
  static open(options: MemoryOptions): Promise<Memory> {
    return openMemory(options, (parts) => new Memory(parts));
  }

  /**
   * A handle bound to one room (a name from `rooms`, an alias or a room ID): get/put/delete/keys/
   * dump/watch there, in every runtime. The room is resolved (joined, migrated) on first use.
   */
  room(ref: string): RoomHandle {
    this.assertOpen();
    return new RoomHandle(this, ref);
  }

  /** The value of `key`, or undefined when absent. Served from the synced picture: no request. */
  get(key: string, options: { at?: string | Date | number } = {}): Promise<unknown> {
    if (options.at !== undefined) return this.valueIn(undefined, key, options.at).then((v) => v.value);
    return this.getIn(undefined, key);
  }

  /**
   * Every version of `key` in the current room, newest first: `{value, sender, ts, eventId}`, and
   * `deleted: true` for a delete (docs/HISTORY.md). Read from the homeserver, one event at a time.
   */
  history(key: string, options: HistoryOptions = {}): AsyncGenerator<KeyVersion, void, undefined> {
    return this.historyIn(undefined, key, options);
  }

  /**
   * Bring `key` back to the version it had at `to` (a time or an event ID): a normal put (or delete,
   * if it did not exist then), so it shows in the history too. Resolves to the value restored.
   */
  async restore(key: string, options: { to: string | Date | number }): Promise<unknown> {
    const then = await this.valueIn(undefined, key, options.to);
    if (!then.present) await this.delete(key);
    else if (then.value instanceof Error) throw then.value;
    else await this.put(key, then.value);
    return then.value;
  }

  /** Store `value` under `key`; resolves once the homeserver has accepted the write. */
  put(key: string, value: unknown): Promise<void> {
    return this.putIn(undefined, key, value);
  }

  /** Put every entry in the current room, checked together first: when they cannot fit, nothing is sent (./put-all.ts). */
  async putAll(entries: readonly { key: string; value: unknown }[], options: PutAllOptions = {}): Promise<void> {
    this.assertOpen();
    this.assertSyncing();
    const room = await this.target(undefined);
    return putAll(this.placing, room, entries, room.encrypted && this.opts.shouldEncrypt, options);
  }

  /**
   * Remove one key (resolves to its value) or several (to their values, in order). Nothing is
   * written for keys that are absent.
   */
  delete(key: string): Promise<unknown>;
  delete(keys: string[]): Promise<unknown[]>;
  delete(keyOrKeys: string | string[]): Promise<unknown> {
    return this.deleteIn(undefined, keyOrKeys);
  }

  /** Every key in the current room. */
  keys(): Promise<string[]> {
    return this.keysIn(undefined);
  }

  /** The whole memory of the current room as one object (encrypted values decrypted). */
  dump(): Promise<Record<string, unknown>> {
    return this.dumpIn(undefined);
  }

  // The operations on a room: `ref` names it, or undefined for the current room (inRoom's, else the default).

  /** @internal */
  async getIn(ref: string | undefined, key: string): Promise<unknown> {
    this.assertOpen();
    validateKey(key, true);
    const room = await this.target(ref);
    const { found, value } = room.lookup(stateKeyFor(this.singleStateKey, key), key);
    if (!found) return undefined;
    if (value instanceof PendingValue) return cloneJson(value.plaintext);
    // A copy either way: the crypto layer may cache what it decrypted.
    return cloneJson(await this.reveal(room.roomId, key, value));
  }

  /** @internal */
  async putIn(ref: string | undefined, key: string, value: unknown): Promise<void> {
    this.assertOpen();
    this.assertSyncing();
    validateKey(key, this.singleStateKey);
    const room = await this.target(ref);
    const encrypt = room.encrypted && this.opts.shouldEncrypt;
    validateValue(key, value, !encrypt);
    const stateKey = stateKeyFor(this.singleStateKey, key);
    const current = room.lookup(stateKey, key);
    if (current.found && !isEncryptedRef(current.value) && !(current.value instanceof PendingValue) && jsonEqual(current.value, value)) return;
    // Our own copy: the caller may change its object after this call.
    return placeValue(this.placing, room, stateKey, key, cloneJson(value), encrypt);
  }

  /** @internal */
  async *historyIn(ref: string | undefined, key: string, options: HistoryOptions): AsyncGenerator<KeyVersion, void, undefined> {
    this.assertOpen();
    validateKey(key, true);
    const room = await this.target(ref);
    yield* keyHistory(key, this.historySource(room, key), options);
  }

  /** @internal The value of `key` in force at `at` (./history-at.ts). */
  async valueIn(ref: string | undefined, key: string, at: string | Date | number): Promise<ValueAt> {
    this.assertOpen();
    validateKey(key, true);
    const room = await this.target(ref);
    const eventTs = async (eventId: string) => (await roomRequests(this.http, room.roomId).event(eventId))?.ts;
    return valueAt(key, this.historySource(room, key), at, eventTs);
  }

  private historySource(room: RoomMemory, key: string): HistorySource {
    // A version that cannot be read (a lost room key) is reported as its error, and the walk goes on.
    const reveal = (stored: unknown) => this.reveal(room.roomId, key, stored).then(cloneJson, (e: unknown) => e);
    return historySource(roomRequests(this.http, room.roomId), this.singleStateKey, key, reveal, room.stateKeys().length);
  }

  /** @internal */
  async deleteIn(ref: string | undefined, keyOrKeys: string | string[]): Promise<unknown> {
    this.assertOpen();
    this.assertSyncing();
    const keys = Array.isArray(keyOrKeys) ? keyOrKeys : [keyOrKeys];
    for (const k of keys) validateKey(k, true);
    const room = await this.target(ref);
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
      // A value we cannot read is still deleted, and reported as its error (UndecryptableValueError), never as absent.
      else values.push(await this.reveal(room.roomId, key, value).then(cloneJson, (e: unknown) => e));
      writes.push(room.writer(stateKey).enqueue({ kind: "delete", key }));
    }
    await Promise.all(writes);
    return Array.isArray(keyOrKeys) ? values : values[0];
  }

  /** @internal */
  async keysIn(ref: string | undefined): Promise<string[]> {
    this.assertOpen();
    const room = await this.target(ref);
    const out = new Set<string>();
    for (const s of room.stateKeys()) for (const k of Object.keys(room.content(s))) out.add(k);
    return [...out].sort();
  }

  /** @internal */
  async dumpIn(ref: string | undefined): Promise<Record<string, unknown>> {
    // One room for the whole dump, even if the current room changes while it awaits.
    const fixed = ref ?? this.currentRef();
    const out: Record<string, unknown> = {};
    for (const key of await this.keysIn(fixed)) out[key] = await this.getIn(fixed, key);
    return out;
  }

  /**
   * The current room's memory with provenance: each key's value (decrypted, downloaded), and the
   * state event that holds it (its sender, time and ID; in a shared state key, the event's last
   * writer). What `mxdb export` writes.
   */
  async entries(): Promise<MemoryEntry[]> {
    this.assertOpen();
    const room = await this.target(undefined);
    const out: MemoryEntry[] = [];
    for (const key of await this.keysIn(room.roomId)) {
      const from = room.syncedEvent(stateKeyFor(this.singleStateKey, key));
      out.push({ key, value: await this.getIn(room.roomId, key), sender: from?.sender ?? this.userId, ts: from?.ts ?? 0, eventId: from?.eventId ?? "" });
    }
    return out;
  }

  /** Who changed which keys of the current room when, oldest first, with flags (./audit.ts). */
  async audit(options: { allow?: string[] } = {}): Promise<AuditEntry[]> {
    this.assertOpen();
    const room = await this.target(undefined);
    return auditRoom(room.stateKeys(), roomRequests(this.http, room.roomId), options.allow ? new Set(options.allow) : undefined);
  }

  /** The current room's values kept in media (docs/LARGE-VALUES.md); references decrypted, media not downloaded. */
  async mediaReferences(): Promise<MediaReference[]> {
    this.assertOpen();
    const room = await this.target(undefined);
    const stored = async (key: string) => {
      const { value } = room.lookup(stateKeyFor(this.singleStateKey, key), key);
      return isEncryptedRef(value) ? this.decrypt(room.roomId, key, value).catch(() => undefined) : value;
    };
    return mediaReferences(await this.keysIn(room.roomId), stored);
  }

  /**
   * Run `fn` with another room as the current one (opsdroid's memory_in_room). The room is scoped
   * to `fn`'s async context, so concurrent tasks in different rooms never see each other's room.
   * That needs AsyncLocalStorage: where the runtime has none, this throws RoomScopeUnavailableError
   * before `fn` runs (never a write to the wrong room); use `db.room(ref)` there.
   */
  async inRoom<T>(room: string, fn: () => Promise<T> | T): Promise<T> {
    this.assertOpen();
    // Its own AsyncLocalStorage (another memory's inRoom must not move this one's room), made once.
    this.scopeReady ??= roomScope().then((scope) => (this.roomScope = scope));
    const scope = await this.scopeReady;
    if (!scope) throw new RoomScopeUnavailableError();
    await this.resolveRef(room);
    return scope.run(room, fn);
  }

  /** Live changes to the memory (every room, or `room`), other writers' included, until `return()`. */
  async *watch(options: { room?: string } = {}): AsyncGenerator<MemoryChange, void, undefined> {
    this.assertOpen();
    const roomId = options.room === undefined ? undefined : (await this.resolveRef(options.room)).roomId;
    const changes = this.sync.changes({ type: EVENT_TYPE, ...(roomId ? { roomId } : {}) });
    try {
      for await (const change of changes) {
        const room = this.byId.get(change.roomId);
        for (const c of keyChanges(change)) {
          // A copy: c.value is inside the synced state event, which later reads and writes start from.
          let value = cloneJson(c.value);
          if (isEncryptedRef(value) || isMediaRef(value)) value = await this.reveal(room?.roomId ?? change.roomId, c.key, value).then(cloneJson, (e: unknown) => e);
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

  /** @internal Release what this memory holds after a failed open (./open.ts). */
  async abandon(): Promise<void> {
    this.closed = true;
    await this.crypto?.close().catch(() => undefined);
  }

  /** @internal The resolved room for a name, alias or ID (joined if needed, legacy data migrated). */
  resolveRef(ref: string): Promise<RoomMemory> {
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

  private currentRef(): string {
    return this.roomScope?.getStore() ?? this.opts.defaultRoom;
  }

  private target(ref: string | undefined): Promise<RoomMemory> {
    return this.resolveRef(ref ?? this.currentRef());
  }

  private newRoom(roomId: string): RoomMemory {
    return newRoomMemory(roomId, { queue: this.queue, userId: this.userId, singleStateKey: this.singleStateKey, sync: this.sync, http: this.http, opts: this.opts, clock: this.clock });
  }

  /** @internal */
  onSync(joined: Record<string, { timeline?: { events?: unknown[] } }>): void {
    for (const [roomId, room] of this.byId) {
      room.onSync(joined[roomId]?.timeline?.events ?? []);
    }
  }

  /** What ./place-value.ts needs of this memory (the crypto layer may have loaded since the last put). */
  private get placing(): PlaceContext {
    return { crypto: this.crypto, media: this.media, largeValues: this.opts.largeValues ?? "media", userId: this.userId, singleStateKey: this.singleStateKey, sizers: this.sizers };
  }


  /** What a stored value stands for: decrypted if it is an encrypted reference, downloaded if it is (then) a media reference. */
  private async reveal(roomId: string, key: string, stored: unknown): Promise<unknown> {
    const value = isEncryptedRef(stored) ? await this.decrypt(roomId, key, stored) : stored;
    return isMediaRef(value) ? this.media.load(key, value) : value;
  }

  private async decrypt(roomId: string, key: string, ref: EncryptedRef): Promise<unknown> {
    if (!this.crypto) throw new UndecryptableValueError(key, roomId, ref.encrypted_val, "this memory has no encryption support enabled");
    return this.crypto.decryptValue(roomId, key, ref.encrypted_val);
  }

  private assertOpen(): void {
    if (this.closed) throw new MemoryClosedError();
  }

  /** A write on a picture that no longer moves could never be checked: refuse it with the loop's error. */
  private assertSyncing(): void {
    if (this.sync.failure !== undefined) throw this.sync.failure;
  }
}
