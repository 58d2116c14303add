/**
 * Virtual time for concurrent code: `sleep` registers a timer, and `run(promise)` advances time to
 * the earliest timer only once every promise job has settled (one macrotask turn), so many
 * concurrent sleepers wake in deadline order, deterministically. fakeClock (msw-transport.ts) fits
 * one request at a time; this one fits thirty.
 */
import type { Clock } from "../../src/http/types.js";

interface Timer {
  at: number;
  seq: number;
  resolve: () => void;
}

export interface VirtualClock extends Clock {
  /** Drive time forward until `work` settles; throws if nothing is left to wake and it has not. */
  run<T>(work: Promise<T>, limitMs?: number): Promise<T>;
  readonly start: number;
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

export function virtualClock(start = 1_700_000_000_000): VirtualClock {
  let now = start;
  let seq = 0;
  const timers: Timer[] = [];
  const clock: VirtualClock = {
    start,
    now: () => now,
    sleep: (ms, signal) =>
      new Promise<void>((resolve, reject) => {
        if (signal?.aborted) return reject(signal.reason);
        const timer: Timer = { at: now + Math.max(0, ms), seq: seq++, resolve: () => (signal?.removeEventListener("abort", onAbort), resolve()) };
        const onAbort = () => {
          const i = timers.indexOf(timer);
          if (i >= 0) timers.splice(i, 1);
          reject(signal!.reason);
        };
        signal?.addEventListener("abort", onAbort, { once: true });
        timers.push(timer);
      }),
    run: async <T>(work: Promise<T>, limitMs = 24 * 3600_000): Promise<T> => {
      let settled = false;
      const watched = work.finally(() => {
        settled = true;
      });
      watched.catch(() => undefined);
      for (;;) {
        await turn();
        if (settled) return watched;
        if (timers.length === 0) throw new Error(`virtual clock: nothing to wake at +${now - start} ms and the work has not settled`);
        timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
        const next = timers.shift()!;
        if (next.at - start > limitMs) throw new Error(`virtual clock: past the ${limitMs} ms limit`);
        now = Math.max(now, next.at);
        next.resolve();
      }
    },
  };
  return clock;
}
