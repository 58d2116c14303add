/**
 * When to send a request again, and how long to wait first.
 * - 429 `M_LIMIT_EXCEEDED`: the server did nothing, so any request may be resent, after the delay it
 *   asked for: the `Retry-After` header first, then the deprecated `retry_after_ms` body field
 *   (spec "Rate limiting": https://spec.matrix.org/v1.19/client-server-api/#rate-limiting).
 * - No answer, or 502/503/504: the request may or may not have been applied, so only idempotent
 *   requests are resent, with capped exponential back-off and jitter.
 */
export interface RetryPolicy {
  /** Sends of one request in all, the first included. */
  maxAttempts: number;
  /** First back-off delay for network errors and 5xx; doubles each time. */
  baseDelayMs: number;
  /** Back-off cap. */
  maxDelayMs: number;
  /** Longest single wait a 429 may impose before we give up and report it. */
  maxRateLimitWaitMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  maxAttempts: 8,
  baseDelayMs: 250,
  maxDelayMs: 30_000,
  maxRateLimitWaitMs: 10 * 60_000,
};

/** Exponential back-off with "equal jitter": uniform in [c/2, c] where c = min(cap, base * 2^attempt). */
export function backoffDelay(attempt: number, policy: Pick<RetryPolicy, "baseDelayMs" | "maxDelayMs">, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
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
