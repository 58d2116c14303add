/**
 * A clock whose sleeps wait until the test moves time on (unlike fakeClock, whose sleeps return at
 * once). For deadlines and timeouts that run beside real work: a timer fires only when `advance`
 * passes its due time.
 */
import type { Clock } from "../../src/http/types.js";

export interface ManualClock extends Clock {
  advance(ms: number): void;
  /** Sleeps not yet due, as their lengths (what the code under test is waiting on). */
  pending(): number[];
}

export function manualClock(start = 1_700_000_000_000): ManualClock {
  let now = start;
  const timers = new Set<{ due: number; ms: number; fire: () => void }>();
  return {
    now: () => now,
    sleep: (ms, signal) =>
      new Promise<void>((resolve, reject) => {
        if (signal?.aborted) return reject(signal.reason);
        const timer = {
          due: now + Math.max(0, ms),
          ms,
          fire: () => {
            signal?.removeEventListener("abort", onAbort);
            resolve();
          },
        };
        const onAbort = () => {
          timers.delete(timer);
          reject(signal!.reason);
        };
        signal?.addEventListener("abort", onAbort, { once: true });
        timers.add(timer);
      }),
    advance: (ms) => {
      now += ms;
      for (const t of [...timers].sort((a, b) => a.due - b.due)) {
        if (t.due > now) continue;
        timers.delete(t);
        t.fire();
      }
    },
    pending: () => [...timers].map((t) => t.ms),
  };
}
