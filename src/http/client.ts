/**
 * The one place where an endpoint value becomes I/O: build the exact request, send it through the
 * transport, map the answer to a value or a typed error, and retry what may be retried.
 */
import { isRawBody, type Endpoint } from "./endpoint.js";
import { AbortedError, HttpError, MatrixError, ResponseShapeError, TransportError, TransportRefusedError } from "./errors.js";
import { backoffDelay, DEFAULT_RETRY, parseRetryAfter, RETRYABLE_STATUS, type RetryPolicy } from "./retry.js";
import { GateDeadline, RateGate } from "./rate-gate.js";
import { tracingTransport, type TraceSink } from "./trace.js";
import { defaultTransport, type ClosableTransport } from "./transport.js";
import { TxnIds } from "./txn.js";
import { systemClock, type Clock, type HttpRequest, type HttpResponse, type Transport } from "./types.js";

export interface HttpClientOptions {
  /** e.g. "http://127.0.0.1:8008" (no trailing path). */
  baseUrl: string;
  accessToken?: string;
  transport?: Transport;
  clock?: Clock;
  retry?: Partial<RetryPolicy>;
  trace?: TraceSink;
  userAgent?: string;
  txnIds?: TxnIds;
  /** Called whenever a 429 makes the client wait (for progress and metrics); the client's gate does the waiting. */
  onRateLimited?: (waitMs: number, endpoint: string) => void;
  /** Aborts every request of this client, in flight or to come (Memory.open's timeout, close()). */
  signal?: AbortSignal;
}

export interface CallOptions {
  signal?: AbortSignal;
  /** Override the retry policy for this call; `false` sends once (still through the rate gate). */
  retry?: Partial<RetryPolicy> | false;
}

/** A parsed answer with the exact text beside it (docs/STYLE.md "Validate answers without losing bytes"). */
export interface Answer<R> {
  value: R;
  raw: string;
  status: number;
  headers: Record<string, string>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class HttpClient {
  readonly baseUrl: string;
  readonly txnIds: TxnIds;
  private accessToken: string | undefined;
  private readonly transport: Transport;
  private readonly clock: Clock;
  private readonly policy: RetryPolicy;
  private readonly userAgent: string;
  private readonly onRateLimited: HttpClientOptions["onRateLimited"];
  /** Every request passes it: after a 429 it holds and paces them all (one user, one budget). */
  private readonly gate: RateGate;
  private readonly ownTransport: ClosableTransport | undefined;
  private readonly signal: AbortSignal | undefined;

  constructor(options: HttpClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.accessToken = options.accessToken;
    this.clock = options.clock ?? systemClock;
    this.policy = { ...DEFAULT_RETRY, ...options.retry };
    this.userAgent = options.userAgent ?? "mxdb/0.1";
    this.txnIds = options.txnIds ?? new TxnIds();
    this.onRateLimited = options.onRateLimited;
    this.signal = options.signal;
    this.gate = new RateGate(this.clock);
    this.ownTransport = options.transport ? undefined : defaultTransport();
    const base = options.transport ?? this.ownTransport!;
    this.transport = options.trace ? tracingTransport(base, options.trace, this.clock) : base;
  }

  setAccessToken(token: string | undefined): void {
    this.accessToken = token;
  }

  get hasAccessToken(): boolean {
    return this.accessToken !== undefined;
  }

  /** A fresh transaction ID; keep it across retries of the same logical request. */
  txnId(): string {
    return this.txnIds.next();
  }

  /** Build the exact request an endpoint call would send (no I/O). */
  buildRequest<A, R>(ep: Endpoint<A, R>, args: A, signal?: AbortSignal): HttpRequest {
    const parts = ep.request(args);
    let url = this.baseUrl + parts.path;
    const query = Object.entries(parts.query ?? {}).flatMap(([k, v]) => (v === undefined ? [] : (Array.isArray(v) ? v : [v]).map((one) => [k, String(one)] as const)));
    if (query.length > 0) url += `?${query.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join("&")}`;
    const headers: Record<string, string> = { "user-agent": this.userAgent };
    if (ep.auth) {
      if (this.accessToken === undefined) throw new MatrixError(401, "M_MISSING_TOKEN", "mxdb has no access token for this request", {}, undefined, ep.method, url);
      headers.authorization = `Bearer ${this.accessToken}`;
    }
    let body: Uint8Array | undefined;
    if (isRawBody(parts.body)) {
      body = parts.body.raw;
      headers["content-type"] = parts.body.contentType;
    } else if (parts.body !== undefined) {
      body = encoder.encode(JSON.stringify(parts.body));
      headers["content-type"] = "application/json";
    }
    return { method: ep.method, url, headers, ...(body ? { body } : {}), ...(signal ? { signal } : {}) };
  }

  /** Call an endpoint and return its parsed value. */
  async send<A, R>(ep: Endpoint<A, R>, args: A, options: CallOptions = {}): Promise<R> {
    return (await this.call(ep, args, options)).value;
  }

  /** Call an endpoint; the answer keeps the exact body text. */
  async call<A, R>(ep: Endpoint<A, R>, args: A, options: CallOptions = {}): Promise<Answer<R>> {
    options = this.withClientSignal(options);
    const once = options.retry === false;
    const policy: RetryPolicy = { ...this.policy, ...(options.retry || {}) };
    const req = this.buildRequest(ep, args, options.signal);
    const deadline = once ? Infinity : this.clock.now() + policy.deadlineMs;
    let lastError: unknown;
    for (let failures = 0; ; ) {
      try {
        await this.gate.acquire(options.signal, deadline);
      } catch (e) {
        // Held by the gate until the budget ran out: report what kept it there.
        if (e instanceof GateDeadline) throw lastError ?? this.gate.lastLimit ?? e;
        throw e instanceof AbortedError ? e : new AbortedError(e);
      }
      let held = true;
      const release = () => {
        if (held) this.gate.release();
        held = false;
      };
      let res: HttpResponse;
      try {
        const answer = this.transport(req);
        // The server holds a long-poll's answer on purpose: it must not hold the gate's slot too.
        if (ep.longPoll) release();
        res = await answer;
      } catch (cause) {
        release();
        if (options.signal?.aborted) throw new AbortedError(options.signal.reason);
        // The runtime will refuse every resend the same way: fail now, not after the retry budget.
        if (cause instanceof TransportRefusedError) throw cause;
        lastError = new TransportError(cause, req.method, req.url);
        if (once || !ep.idempotent) throw lastError;
        await this.backoff(failures++, policy, deadline, lastError, options.signal);
        continue;
      }
      if (res.status >= 200 && res.status < 300) {
        release();
        this.gate.succeeded();
        return this.parse(ep, req, res);
      }
      const error = this.toError(req, res);
      if (res.status === 429) {
        // Backpressure, Matrix JSON or not (a proxy's page): the server did nothing, so resend.
        const asked = error instanceof MatrixError ? error.retryAfterMs : parseRetryAfter(res.headers["retry-after"], this.clock.now());
        const wait = asked ?? backoffDelay(failures++, policy);
        // Hold everyone for the delay, but not past what we would wait ourselves (a Retry-After of hours).
        this.gate.limited(Math.min(wait, policy.maxRateLimitWaitMs), error);
        release();
        lastError = error;
        this.onRateLimited?.(wait, ep.name);
        if (once || wait > policy.maxRateLimitWaitMs || this.clock.now() + wait > deadline) throw error;
        continue; // the gate holds the resend until the delay has passed
      }
      release();
      if (!once && RETRYABLE_STATUS.has(res.status) && ep.idempotent) {
        lastError = error;
        await this.backoff(failures++, policy, deadline, error, options.signal);
        continue;
      }
      throw error;
    }
  }

  /** Release the default transport's sockets; requests still held by the gate fail with AbortedError. */
  async close(): Promise<void> {
    this.gate.close(new AbortedError("the HTTP client was closed"));
    await this.ownTransport?.close();
  }

  /** The call's own signal joined with the client's: either one aborts the request. */
  private withClientSignal(options: CallOptions): CallOptions {
    if (!this.signal) return options;
    return { ...options, signal: options.signal ? AbortSignal.any([options.signal, this.signal]) : this.signal };
  }

  /** Wait before resending after a network error or 5xx (a last try at the deadline); throw `error` once it has passed. */
  private async backoff(failures: number, policy: RetryPolicy, deadline: number, error: unknown, signal: AbortSignal | undefined): Promise<void> {
    const left = deadline - this.clock.now();
    if (left <= 0) throw error;
    await this.sleep(Math.min(backoffDelay(failures, policy), left), signal);
  }

  private async sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
    try {
      await this.clock.sleep(ms, signal);
    } catch (reason) {
      throw new AbortedError(reason);
    }
  }

  private parse<A, R>(ep: Endpoint<A, R>, req: HttpRequest, res: HttpResponse): Answer<R> {
    if (ep.response === "bytes") return { value: res.body as R, raw: "", status: res.status, headers: res.headers };
    const raw = decoder.decode(res.body);
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      throw new ResponseShapeError(undefined, raw, req.method, req.url, "the response is not JSON");
    }
    const parsed = ep.response.safeParse(json);
    if (!parsed.success) throw new ResponseShapeError(parsed.error.issues, raw, req.method, req.url);
    return { value: parsed.data, raw, status: res.status, headers: res.headers };
  }

  private toError(req: HttpRequest, res: HttpResponse): MatrixError | HttpError {
    const text = decoder.decode(res.body);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return new HttpError(res.status, text, req.method, req.url);
    }
    if (typeof body !== "object" || body === null || typeof (body as { errcode?: unknown }).errcode !== "string") {
      return new HttpError(res.status, text, req.method, req.url);
    }
    const b = body as Record<string, unknown>;
    const fromHeader = parseRetryAfter(res.headers["retry-after"], this.clock.now());
    const fromBody = typeof b.retry_after_ms === "number" && b.retry_after_ms >= 0 ? b.retry_after_ms : undefined;
    return new MatrixError(res.status, b.errcode as string, typeof b.error === "string" ? b.error : "", b, fromHeader ?? fromBody, req.method, req.url);
  }
}
