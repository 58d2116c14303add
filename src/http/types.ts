/**
 * The transport seam (docs/STYLE.md "Inject the transport and the clock"): every byte mxdb sends
 * goes through one function of this type.
 * Production uses undici (./transport.ts); tests pass msw handlers or a recorded fixture server;
 * constrained runtimes pass their own fetch.
 */
export type Method = "GET" | "PUT" | "POST" | "DELETE";

export interface HttpRequest {
  method: Method;
  /** Absolute URL, query included. */
  url: string;
  /** Lower-case header names. */
  headers: Record<string, string>;
  /** Exact body bytes, or undefined for no body. */
  body?: Uint8Array;
  signal?: AbortSignal;
}

export interface HttpResponse {
  status: number;
  /** Lower-case header names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  /** Exact body bytes as received. */
  body: Uint8Array;
}

export type Transport = (request: HttpRequest) => Promise<HttpResponse>;

/** Injectable time, so retries and rate-limit pauses are testable without real waiting. */
export interface Clock {
  now(): number;
  /** Resolves after `ms`, rejects with the signal's reason if aborted first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const timer = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, Math.max(0, ms));
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal!.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
    }),
};
