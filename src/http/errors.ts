/**
 * Errors typed by wire shape, then by errcode (docs/STYLE.md "Type errors by wire shape"):
 * - MatrixError: the server answered with the spec's `{errcode, error}` body.
 * - HttpError: a 4xx/5xx without an errcode (a proxy's HTML 502 page, an empty 504).
 * - TransportError: no HTTP answer at all (refused, reset, DNS, aborted); may be retried.
 * - TransportRefusedError: the runtime itself will never send this request (no network permission,
 *   a Workers I/O context that is gone); never retried.
 * - ResponseShapeError: a 2xx whose body is not the JSON the spec promises.
 * Spec: https://spec.matrix.org/v1.19/client-server-api/#standard-error-response
 */
import type * as z from "zod/mini";

export abstract class MxdbError extends Error {
  abstract readonly code: string;
}

export function isMxdbError(value: unknown): value is MxdbError {
  return value instanceof MxdbError;
}

export class MatrixError extends MxdbError {
  override readonly name = "MatrixError";
  readonly code = "MATRIX_ERROR";
  constructor(
    readonly status: number,
    readonly errcode: string,
    readonly error: string,
    /** The whole error body: errcode-specific fields live here. */
    readonly body: Record<string, unknown>,
    /** Delay the server asked for on 429: Retry-After first, then retry_after_ms. */
    readonly retryAfterMs: number | undefined,
    readonly method = "",
    readonly url = "",
  ) {
    super(`${errcode} (HTTP ${status}): ${error || "no message"}${method ? ` [${method} ${redactUrl(url)}]` : ""}`);
  }
  /** Spec "Soft logout": true means log in again with the same device. */
  get softLogout(): boolean {
    return this.body.soft_logout === true;
  }
}

export function isMatrixError(value: unknown, errcode?: string): value is MatrixError {
  return value instanceof MatrixError && (errcode === undefined || value.errcode === errcode);
}

export class HttpError extends MxdbError {
  override readonly name = "HttpError";
  readonly code = "HTTP_ERROR";
  constructor(
    readonly status: number,
    /** The body as text (may be HTML from a proxy). */
    readonly bodyText: string,
    readonly method = "",
    readonly url = "",
  ) {
    super(`HTTP ${status} without a Matrix error body${method ? ` [${method} ${redactUrl(url)}]` : ""}: ${bodyText.slice(0, 120)}`);
  }
}

export class TransportError extends MxdbError {
  override readonly name = "TransportError";
  readonly code = "TRANSPORT_ERROR";
  constructor(
    override readonly cause: unknown,
    readonly method = "",
    readonly url = "",
  ) {
    super(`no HTTP response${method ? ` for ${method} ${redactUrl(url)}` : ""}: ${describe(cause)}`);
  }
}

/**
 * The runtime refused to send the request, and always will: Deno without network permission for the
 * host (NotCapable), a Workers object used outside the request that made it. Retrying cannot help,
 * so it fails at once (docs/RUNTIMES.md).
 */
export class TransportRefusedError extends MxdbError {
  override readonly name = "TransportRefusedError";
  readonly code = "TRANSPORT_REFUSED";
  constructor(
    override readonly cause: unknown,
    readonly method = "",
    readonly url = "",
  ) {
    super(`the runtime refused to send ${method ? `${method} ${redactUrl(url)}` : "the request"}: ${describe(cause)}`);
  }
}

export class ResponseShapeError extends MxdbError {
  override readonly name = "ResponseShapeError";
  readonly code = "RESPONSE_SHAPE";
  constructor(
    readonly issues: z.core.$ZodIssue[] | undefined,
    /** The exact body text the server sent. */
    readonly raw: string,
    readonly method = "",
    readonly url = "",
    reason = "the response does not match the spec's schema",
  ) {
    super(`${reason}${method ? ` [${method} ${redactUrl(url)}]` : ""}${issues?.length ? `: ${issues.map(describeIssue).join("; ")}` : ""}`);
  }
}

/**
 * "path: expected string" rather than zod's message: zod/mini ships no locale (that is most of
 * classic zod's size), so its messages are all "Invalid input"; the issue's code says more.
 */
function describeIssue(issue: z.core.$ZodIssue): string {
  const where = issue.path.map(String).join(".") || "(root)";
  const what = issue.code === "invalid_type" ? `expected ${issue.expected}` : issue.code.replaceAll("_", " ");
  return `${where}: ${what}`;
}

/** The request was cancelled through its AbortSignal. */
export class AbortedError extends MxdbError {
  override readonly name = "AbortedError";
  readonly code = "ABORTED";
  constructor(override readonly cause?: unknown) {
    super("the request was aborted");
  }
}

function describe(cause: unknown): string {
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code;
    return `${typeof code === "string" ? `${code}: ` : ""}${cause.message}`;
  }
  return String(cause);
}

/** Query-string tokens are never printed (spec v1.11 deprecated them; we never send them, but a caller's URL might). */
export function redactUrl(url: string): string {
  return url.replace(/([?&](?:access_token|refresh_token)=)[^&]*/g, "$1<redacted>");
}
