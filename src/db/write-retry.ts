/**
 * How the memory's writes are retried: one policy for the HTTP client and the writer's own retries
 * (./writer.ts rebuilds a failed write on its freshest picture), and which failures are answers.
 */
import { HttpError, isMatrixError, MatrixError, TransportError } from "../http/errors.js";
import { backoffDelay, DEFAULT_RETRY, RETRYABLE_STATUS, type RetryPolicy } from "../http/retry.js";
import type { LineageEvent } from "./lineage.js";
import type { ResolvedOptions } from "./options.js";

/** How long a write forked off the same parent as ours can take to land (docs/DURABILITY.md). */
export const DEFAULT_SETTLE_MS = 1000;

/** One retry policy for the HTTP client and the writer's own retries: `writeTimeoutMs` is its deadline. */
export function retryPolicy(opts: ResolvedOptions): RetryPolicy {
  return { ...DEFAULT_RETRY, ...opts.retry, ...(opts.writeTimeoutMs === undefined ? {} : { deadlineMs: opts.writeTimeoutMs }) };
}

/** Rate limited (the server did nothing), no answer, or a gateway error: write again after this delay. */
export function writeRetryDelay(e: unknown, attempt: number, policy: RetryPolicy): number | undefined {
  const status = e instanceof MatrixError || e instanceof HttpError ? e.status : undefined;
  // The client's rate gate holds the next try until the server's delay has passed (src/http/rate-gate.ts).
  if (status === 429) return 0;
  if (e instanceof TransportError || (status !== undefined && RETRYABLE_STATUS.has(status))) return backoffDelay(attempt, policy);
  return undefined;
}

/** A 404 (no such state or event) is an answer, not a failure. */
export async function notFoundAsUndefined<T = LineageEvent>(fn: () => Promise<T | undefined>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (e) {
    if (isMatrixError(e, "M_NOT_FOUND")) return undefined;
    throw e;
  }
}
