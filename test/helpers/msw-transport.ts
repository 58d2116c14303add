/**
 * Serve msw handlers through mxdb's transport seam. msw does not intercept the undici package
 * (mswjs/msw#2165), so unit tests hand this transport to HttpClient instead of patching globals.
 * Every request is recorded with its exact bytes for assertions.
 */
import { getResponse, http, HttpResponse as MswResponse, type RequestHandler } from "msw";
import type { HttpRequest, HttpResponse, Transport } from "../../src/http/types.js";

export interface RecordingTransport extends Transport {
  requests: HttpRequest[];
}

/** What a stock Synapse 1.163 answers to GET /versions (abridged): spec v1.1-v1.15, no MSC4222, so the classic sync path. */
export const STOCK_VERSIONS = { versions: ["r0.6.1", ...Array.from({ length: 15 }, (_, i) => `v1.${i + 1}`)], unstable_features: { "org.matrix.msc3827.stable": true } };

/**
 * `handlers` first; GET /_matrix/client/versions falls back to STOCK_VERSIONS (Memory.open and the
 * sync loop ask it once), so a test that does not care about capabilities need not serve it.
 */
export function mswTransport(handlers: RequestHandler[]): RecordingTransport {
  handlers = [...handlers, http.get("*/_matrix/client/versions", () => MswResponse.json(STOCK_VERSIONS))];
  const requests: HttpRequest[] = [];
  const transport = async (req: HttpRequest): Promise<HttpResponse> => {
    requests.push(req);
    const request = new Request(req.url, { method: req.method, headers: req.headers, body: req.body ?? null });
    const res = await getResponse(handlers, request);
    if (!res) throw new Error(`msw: no handler for ${req.method} ${req.url}`);
    const headers: Record<string, string> = {};
    res.headers.forEach((value, name) => {
      headers[name.toLowerCase()] = value;
    });
    return { status: res.status, headers, body: new Uint8Array(await res.arrayBuffer()) };
  };
  return Object.assign(transport, { requests });
}

/** A clock that never really waits: sleeps advance `now` and are recorded. */
export function fakeClock(start = 1_700_000_000_000) {
  let now = start;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
    sleep: async (ms: number, signal?: AbortSignal) => {
      if (signal?.aborted) throw signal.reason;
      sleeps.push(ms);
      now += Math.max(0, ms);
    },
  };
}
