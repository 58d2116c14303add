/**
 * The default transport: undici with keep-alive. This is the only module that opens connections.
 * Anything with the `Transport` signature can replace it (an msw handler set in tests, a platform fetch).
 */
import { Agent, request as undiciRequest } from "undici";
import type { HttpRequest, HttpResponse, Transport } from "./types.js";

export interface UndiciTransportOptions {
  /** Concurrent connections per origin; writes and the sync long-poll run side by side. */
  connections?: number;
  /** How long an idle keep-alive socket is kept. */
  keepAliveTimeoutMs?: number;
  /** Upper bound for headers/body to arrive; must exceed the sync long-poll timeout. */
  timeoutMs?: number;
}

export function undiciTransport(options: UndiciTransportOptions = {}): Transport & { close(): Promise<void> } {
  const agent = new Agent({
    connections: options.connections ?? 32,
    keepAliveTimeout: options.keepAliveTimeoutMs ?? 30_000,
    headersTimeout: options.timeoutMs ?? 120_000,
    bodyTimeout: options.timeoutMs ?? 120_000,
  });
  const send = async (req: HttpRequest): Promise<HttpResponse> => {
    const res = await undiciRequest(req.url, {
      method: req.method,
      headers: req.headers,
      body: req.body === undefined ? undefined : Buffer.from(req.body.buffer, req.body.byteOffset, req.body.byteLength),
      signal: req.signal,
      dispatcher: agent,
    });
    const body = new Uint8Array(await res.body.arrayBuffer());
    return { status: res.statusCode, headers: flattenHeaders(res.headers), body };
  };
  return Object.assign(send, { close: () => agent.close() });
}

/** A transport over any WHATWG fetch (global fetch, a runtime's own); used where undici is unavailable. */
export function fetchTransport(fetchImpl: typeof fetch = globalThis.fetch): Transport {
  return async (req) => {
    const res = await fetchImpl(req.url, {
      method: req.method,
      headers: req.headers,
      body: req.body,
      signal: req.signal,
    });
    const headers: Record<string, string> = {};
    res.headers.forEach((value, name) => {
      headers[name.toLowerCase()] = value;
    });
    return { status: res.status, headers, body: new Uint8Array(await res.arrayBuffer()) };
  };
}

function flattenHeaders(raw: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(", ") : value;
  }
  return out;
}
