/**
 * When to send a request again, and how long to wait first. A request is bounded by time
 * (`deadlineMs`), never by a count of refusals; when the budget is spent, the last error is thrown.
 * - 429 (Matrix `M_LIMIT_EXCEEDED`, or a proxy's page without Matrix JSON): the server did nothing,
 *   so any request may be resent, after the delay it asked for: the `Retry-After` header first, then
 *   the deprecated `retry_after_ms` body field
 *   (spec "Rate limiting": https://spec.matrix.org/v1.19/client-server-api/#rate-limiting). The
 *   client's RateGate (./rate-gate.ts) holds and paces every request meanwhile.
 * - No answer, or 502/503/504: the request may or may not have been applied, so only idempotent
 *   requests are resent, with capped exponential back-off and jitter.
 */
export interface RetryPolicy {
  /** How long one request may keep retrying (429s, network errors, 5xx), its waits included. */
  deadlineMs: number;
  /** First back-off delay for network errors and 5xx; doubles each time. */
  baseDelayMs: number;
  /** Back-off cap: low enough that a restarted homeserver is noticed within seconds. */
  maxDelayMs: number;
  /** Longest single wait a 429 may impose before we give up and report it. */
  maxRateLimitWaitMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  deadlineMs: 5 * 60_000,
  baseDelayMs: 250,
  maxDelayMs: 5_000,
  maxRateLimitWaitMs: 5 * 60_000,
};

/** Exponential back-off with "equal jitter": uniform in [c/2, c] where c = min(cap, base * 2^attempt). */
export function backoffDelay(attempt: number, policy: Pick<RetryPolicy, "baseDelayMs" | "maxDelayMs">, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** Parse `Retry-After`: delta-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

export const RETRYABLE_STATUS = new Set([502, 503, 504]);
