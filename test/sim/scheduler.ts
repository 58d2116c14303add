/**
 * The deterministic scheduler: simulated time, a timer queue, and one rule — time moves only when
 * nothing else can run. Between timers it drains microtasks and setImmediate callbacks (Memory
 * defers batches with setImmediate), counting the immediates in flight so it knows when the
 * program is quiet. Each simulated process gets its own Clock; killing the process drops its timers.
 */
import type { Clock } from "../../src/http/types.js";

interface Timer {
  at: number;
  seq: number;
  owner: string;
  fire: () => void;
}

export class Scheduler {
  now: number;
  private timers: Timer[] = [];
  private seq = 0;
  private readonly dead = new Set<string>();
  private pendingImmediates = 0;
  private readonly realSetImmediate = globalThis.setImmediate;
  /** Real timers set during a run (each one a determinism bug: use the injected Clock). */
  readonly realTimers: string[] = [];

  constructor(start = 1_700_000_000_000) {
    this.now = start;
  }

  /** Run `fn` at now + ms, on behalf of `owner` (dropped if the owner is killed first). */
  at(ms: number, owner: string, fn: () => void): () => void {
    const timer: Timer = { at: this.now + Math.max(0, Math.round(ms)), seq: this.seq++, owner, fire: fn };
    if (this.dead.has(owner)) return () => {};
    // Kept sorted by (at, seq): equal times fire in the order they were set.
    let i = this.timers.length;
    while (i > 0 && (this.timers[i - 1]!.at > timer.at || (this.timers[i - 1]!.at === timer.at && this.timers[i - 1]!.seq > timer.seq))) i--;
    this.timers.splice(i, 0, timer);
    return () => {
      const j = this.timers.indexOf(timer);
      if (j >= 0) this.timers.splice(j, 1);
    };
  }

  /** A Clock for one process: its sleeps are timers in this queue. */
  clock(owner: string): Clock {
    return {
      now: () => this.now,
      sleep: (ms, signal) =>
        new Promise<void>((resolve, reject) => {
          if (signal?.aborted) return reject(signal.reason);
          const cancel = this.at(ms, owner, () => {
            signal?.removeEventListener("abort", onAbort);
            resolve();
          });
          const onAbort = () => {
            cancel();
            reject(signal!.reason);
          };
          signal?.addEventListener("abort", onAbort, { once: true });
        }),
    };
  }

  /** The process is gone: its timers never fire, new ones are ignored. */
  kill(owner: string): void {
    this.dead.add(owner);
    this.timers = this.timers.filter((t) => t.owner !== owner);
  }

  isDead(owner: string): boolean {
    return this.dead.has(owner);
  }

  /**
   * Drive the program: drain, stop if `done()`, else fire the earliest timer. Returns false when
   * no timer is left or the next one is past `deadline` (a hang, as far as the caller is concerned).
   */
  async run(done: () => boolean, deadline: number): Promise<boolean> {
    for (;;) {
      await this.drain();
      if (done()) return true;
      const next = this.timers.shift();
      if (!next || next.at > deadline) {
        if (next) this.timers.unshift(next);
        return false;
      }
      this.now = Math.max(this.now, next.at);
      next.fire();
    }
  }

  /** Let every runnable microtask and setImmediate callback run. */
  async drain(): Promise<void> {
    do {
      await new Promise<void>((r) => this.realSetImmediate(r));
    } while (this.pendingImmediates > 0);
  }

  /**
   * Count setImmediate callbacks while a run is in progress (the whole process is ours then:
   * one simulated run at a time). Returns the function that restores the real one and releases
   * the abort listeners the run left behind (recordAbortListeners).
   */
  install(): () => void {
    const real = this.realSetImmediate;
    // A real timer inside a run would make it depend on the wall clock: recorded, so the run fails.
    const realSetTimeout = globalThis.setTimeout;
    const realSetInterval = globalThis.setInterval;
    const record = (what: string) => this.realTimers.push(`${what} from ${new Error().stack?.split("\n")[3]?.trim() ?? "?"}`);
    globalThis.setTimeout = ((...args: Parameters<typeof setTimeout>) => {
      record("setTimeout");
      return realSetTimeout(...args);
    }) as typeof setTimeout;
    globalThis.setInterval = ((...args: Parameters<typeof setInterval>) => {
      record("setInterval");
      return realSetInterval(...args);
    }) as typeof setInterval;
    const counting = ((fn: (...args: unknown[]) => void, ...args: unknown[]) => {
      this.pendingImmediates++;
      return real(() => {
        this.pendingImmediates--;
        fn(...args);
      });
    }) as unknown as typeof setImmediate;
    globalThis.setImmediate = counting;
    const releaseListeners = recordAbortListeners();
    return () => {
      globalThis.setImmediate = real;
      globalThis.setTimeout = realSetTimeout;
      globalThis.setInterval = realSetInterval;
      releaseListeners();
    };
  }
}

/**
 * Node holds a composite signal (AbortSignal.any, as HttpClient makes one per request) strongly
 * while it has an abort listener and has not aborted. A killed process never removes its listeners
 * (its answers and timers are dropped) and nothing aborts its signals, so each such signal would
 * keep its run (scheduler, server, Memory instances) alive for good: a soak ran out of memory.
 * Records every abort listener added during the run; the returned function removes those still
 * attached, once the run is over (no listener is called, so the trace is unchanged).
 */
function recordAbortListeners(): () => void {
  const proto = AbortSignal.prototype as AbortSignal & { addEventListener: EventTarget["addEventListener"] };
  const own = Object.getOwnPropertyDescriptor(proto, "addEventListener");
  const add = proto.addEventListener;
  const added: { signal: AbortSignal; type: string; listener: NonNullable<Parameters<EventTarget["addEventListener"]>[1]>; capture: boolean }[] = [];
  proto.addEventListener = function (this: AbortSignal, type, listener, options) {
    if (listener) added.push({ signal: this, type, listener, capture: typeof options === "boolean" ? options : options?.capture === true });
    add.call(this, type, listener, options);
  };
  return () => {
    if (own) Object.defineProperty(proto, "addEventListener", own);
    else delete (proto as Partial<typeof proto>).addEventListener;
    for (const a of added) a.signal.removeEventListener(a.type, a.listener, { capture: a.capture });
    added.length = 0;
  };
}
