/**
 * The composition root: Memory.open builds here, in order, the store, the trace sink, the HTTP
 * client (and its transport), the session, the sync loop and the lazily loaded crypto layer, then
 * hands them to the Memory, which keeps only the operations (./memory.ts).
 *
 * Runtime-specific parts load only where they run (docs/RUNTIMES.md): a store or trace given as a
 * path loads FileStore or the file sink beside this module, and inRoom's AsyncLocalStorage comes
 * from `node:async_hooks` where the runtime has it.
 */
import PQueue from "p-queue";
import { fetchCapabilities, type ServerCapabilities } from "../http/capabilities.js";
import { HttpClient } from "../http/client.js";
import { AbortedError } from "../http/errors.js";
import { loadBeside, loadNodeOnly } from "../http/runtime.js";
import type { TraceSink } from "../http/trace.js";
import { systemClock, type Clock } from "../http/types.js";
import { MemoryStore, type Store } from "../store/store.js";
import { SyncLoop } from "../sync/sync-loop.js";
import { MemoryClosedError, OpenTimeoutError } from "./errors.js";
import { LazyEncryption } from "./lazy-encryption.js";
import { checkOptions, type MemoryOptions, type ResolvedOptions } from "./options.js";
import { openSession } from "./session.js";
import type { ValueCrypto } from "./value-crypto.js";
import { retryPolicy } from "./write-retry.js";

/** Memory.open's default time limit: a first sync of a large account takes tens of seconds. */
export const DEFAULT_OPEN_TIMEOUT_MS = 120_000;

/** Scopes a room name to an async context (AsyncLocalStorage's shape); absent where the runtime has none. */
export interface RoomScope {
  run<T>(room: string, fn: () => T): T;
  getStore(): string | undefined;
}

/** What the composition root hands to the Memory it builds. */
export interface MemoryParts {
  opts: ResolvedOptions;
  http: HttpClient;
  sync: SyncLoop;
  store: Store;
  clock: Clock;
  queue: PQueue;
  lifetime: AbortController;
  userId: string;
  deviceId: string | undefined;
  /** What /versions said and what mxdb chose from it (src/http/capabilities.ts). */
  capabilities: ServerCapabilities;
  closers: Array<() => unknown>;
  /** The crypto layer, opened now if it was not yet (Memory.recovery needs it without an encrypted room). */
  crypto(): Promise<ValueCrypto | undefined>;
}

/** The calls open makes on the Memory it built (internal to src/db). */
export interface OpenedMemory {
  setCrypto(crypto: ValueCrypto): void;
  onSync(joined: Record<string, { timeline?: { events?: unknown[] } }>): void;
  resolveRef(ref: string): Promise<unknown>;
  /** Release what this memory holds after a failed open; marks it closed. */
  abandon(): Promise<void>;
}

/**
 * Log in (or check the token), load the store, sync once, and resolve the default room. Gives up
 * after `timeoutMs` (OpenTimeoutError) or when `signal` aborts (AbortedError); either way the sync
 * loop is stopped and every request of this memory aborted before the promise rejects.
 */
export async function openMemory<M extends OpenedMemory>(options: MemoryOptions, make: (parts: MemoryParts) => M): Promise<M> {
  const opts = checkOptions(options);
  const clock = opts.clock ?? systemClock;
  if (opts.signal?.aborted) throw new AbortedError(opts.signal.reason);
  const closers: Array<() => unknown> = [];
  const store: Store = typeof opts.store === "string" ? await fileStore(opts.store) : (opts.store ?? new MemoryStore());
  // Our own in-memory store dies with the process: room snapshots would never be read back.
  const saveRooms = opts.store !== undefined;
  let trace: TraceSink | undefined;
  if (typeof opts.trace === "string") {
    const sink = await fileTrace(opts.trace);
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
  let memory: M | undefined;
  let sync: SyncLoop | undefined;
  const steps = (async () => {
    // Asked once, before anything else: an unsupported server fails open here (UnsupportedHomeserverError).
    const capabilities = await fetchCapabilities(http, opts.stateAfter, lifetime.signal);
    const session = await openSession(http, store, opts);
    // A recovery key is checked against secret storage before the sync starts: a wrong one uploads nothing.
    const recovery = opts.recoveryKey !== undefined ? await unlock(http, session.userId, opts) : undefined;
    delete opts.recoveryKey; // the memory keeps no reference to it

    // End-to-end encryption, loaded when needed (./lazy-encryption.ts): sees each /sync batch before its token is saved.
    const e2ee = new LazyEncryption(opts, { http, store, userId: session.userId, deviceId: session.deviceId, recovery }, (layer) => memory?.setCrypto(layer));
    sync = new SyncLoop({
      http,
      userId: session.userId,
      store,
      clock,
      timeoutMs: opts.syncTimeoutMs,
      deadlineMarginMs: opts.syncDeadlineMarginMs,
      autoJoin: opts.autoJoin,
      capabilities,
      onError: opts.onError,
      beforeCommit: e2ee.beforeCommit,
      saveRooms,
    });
    e2ee.bind(sync);
    const m = make({ opts, http, sync, store, clock, queue, lifetime, userId: session.userId, deviceId: session.deviceId, capabilities, closers, crypto: () => e2ee.openNow() });
    memory = m;
    sync.on("sync", (response) => m.onSync(response.rooms?.join ?? {}));
    sync.start();
    const loop = sync;
    // The loop's own error (a damaged store, a persistent 4xx) is what open fails with.
    await Promise.race([loop.whenSynced(), loop.done.then(() => Promise.reject(loop.failure ?? new MemoryClosedError())), e2ee.failure]);
    await e2ee.ready();
    await m.resolveRef(opts.defaultRoom);
    return m;
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
    await (memory as M | undefined)?.abandon();
    await http.close();
    await store.close?.().catch(() => undefined);
    for (const c of closers) c();
    throw e;
  } finally {
    opts.signal?.removeEventListener("abort", abort);
    if (!timer.signal.aborted) timer.abort();
  }
}

/** The recovery code (and libolm) load only when a recovery key is given. */
async function unlock(http: HttpClient, userId: string, opts: ResolvedOptions) {
  const [{ unlockRecovery }, { olmBackend }] = await Promise.all([import("./key-backup.js"), import("../crypto/olm/backend.js")]);
  return unlockRecovery(http, await olmBackend(opts.olmWasm), userId, opts.recoveryKey!);
}

/** FileStore uses node:fs: loaded only when a path is given (options.ts refuses one where there is no file system). */
async function fileStore(path: string): Promise<Store> {
  const { FileStore } = await loadNodeOnly<typeof import("../store/file-store.js")>("store/file-store.js");
  return new FileStore(path);
}

async function fileTrace(path: string): Promise<TraceSink & { close(): void }> {
  const { fileTraceSink } = await loadNodeOnly<typeof import("../http/trace-file.js")>("http/trace-file.js");
  return fileTraceSink(path);
}

let scopeClass: Promise<(new () => RoomScope) | undefined> | undefined;

/**
 * A new AsyncLocalStorage where the runtime has one (Node, Bun, Deno, Workers with nodejs_compat),
 * else undefined. Loaded on the first inRoom, not by open: most memories never need it.
 */
export async function roomScope(): Promise<RoomScope | undefined> {
  scopeClass ??= loadBeside<{ AsyncLocalStorage: new () => RoomScope }>(import.meta.url, "node:async_hooks").then(
    (m) => m.AsyncLocalStorage,
    () => undefined,
  );
  const Scope = await scopeClass;
  return Scope && new Scope();
}
