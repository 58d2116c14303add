/**
 * One rate gate per HttpClient, in front of every request it sends.
 *
 * Why: a homeserver's limiter is a token bucket per user (Synapse's `rc_message`: 0.2/s, burst 10).
 * Once it is empty, requests that wait out the same 429 delay and are resent together meet it
 * together: one lands, the rest are refused again, round after round. So after a 429 the gate
 * holds every request until the server's delay has passed, then releases them one at a time (the
 * next after the previous one's answer), in arrival order. Each success widens the window by one
 * (one, two, three… in flight); at OPEN_AT it is open again: full concurrency, no queue.
 * Time comes from the injected Clock only.
 */
import type { Clock } from "./types.js";

/** Requests in flight at which a recovering gate counts as open again. */
const OPEN_AT = 16;

interface Waiter {
  deadline: number;
  grant(): void;
  fail(reason: unknown): void;
}

/** Raised by `acquire` when the caller's deadline passed while the gate held it. */
export class GateDeadline extends Error {
  override readonly name = "GateDeadline";
}

export class RateGate {
  /** Requests allowed in flight; Infinity while open. */
  private window = Infinity;
  private inFlight = 0;
  /** Nothing is released before this time (the server's delay after the latest 429). */
  private resumeAt = 0;
  private readonly waiters: Waiter[] = [];
  private sleeping = false;
  private readonly stop = new AbortController();
  /** The 429 that closed the gate last: what a request held here until its deadline is told. */
  lastLimit: unknown;

  constructor(private readonly clock: Clock) {}

  /** True while the gate holds or paces requests. */
  get paced(): boolean {
    return this.window !== Infinity || this.clock.now() < this.resumeAt;
  }

  /**
   * Take a slot; resolves when the request may be sent. Call `release()` once it is answered.
   * Fails with GateDeadline as soon as the gate cannot let it go before `deadline` (checked whenever
   * the gate changes, so no timer per waiter).
   */
  acquire(signal?: AbortSignal, deadline = Infinity): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.waiters.length === 0 && this.canRelease()) {
      this.inFlight++;
      return Promise.resolve();
    }
    if (this.stop.signal.aborted) return Promise.reject(this.stop.signal.reason);
    return new Promise<void>((resolve, reject) => {
      const done = () => {
        signal?.removeEventListener("abort", onAbort);
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
      };
      const waiter: Waiter = {
        deadline,
        grant: () => {
          done();
          this.inFlight++;
          resolve();
        },
        fail: (reason) => {
          done();
          reject(reason);
        },
      };
      const onAbort = () => {
        waiter.fail(signal!.reason);
        this.pump();
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiters.push(waiter);
      this.pump();
    });
  }

  /** The request holding a slot was answered (or sent, for a long-poll): let the next one go. */
  release(): void {
    this.inFlight = Math.max(0, this.inFlight - 1);
    this.pump();
  }

  /** A 429: hold everything for `delayMs`, then release one at a time. */
  limited(delayMs: number, error: unknown): void {
    this.lastLimit = error;
    this.window = 1;
    this.resumeAt = Math.max(this.resumeAt, this.clock.now() + delayMs);
    this.pump();
  }

  /** A success: widen the window by one, until it is open again. */
  succeeded(): void {
    if (this.window === Infinity || this.clock.now() < this.resumeAt) return;
    this.window = this.window + 1 >= OPEN_AT ? Infinity : this.window + 1;
    this.pump();
  }

  /** Fail every waiter and cancel the pending wake-up (the client is closing). */
  close(reason: unknown): void {
    this.stop.abort(reason);
    for (const w of [...this.waiters]) w.fail(reason);
  }

  private canRelease(): boolean {
    return this.clock.now() >= this.resumeAt && this.inFlight < this.window;
  }

  private pump(): void {
    const now = this.clock.now();
    for (const w of [...this.waiters]) if (now > w.deadline || this.resumeAt > w.deadline) w.fail(new GateDeadline());
    while (this.waiters.length > 0 && this.canRelease()) this.waiters[0]!.grant();
    if (this.waiters.length === 0 || this.sleeping || this.stop.signal.aborted) return;
    const wait = this.resumeAt - now;
    if (wait <= 0) return; // waiting for a slot: release() pumps
    this.sleeping = true;
    this.clock.sleep(wait, this.stop.signal).then(
      () => {
        this.sleeping = false;
        this.pump();
      },
      () => {
        this.sleeping = false;
      },
    );
  }
}
