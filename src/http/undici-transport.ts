/**
 * The Node default transport: undici with a keep-alive pool. Node-only; the core loads it lazily
 * (./transport.ts defaultTransport) when the first request goes out, so `import("mxdb")` does not
 * pay for undici and other runtimes never load it.
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
      body: req.body,
      signal: req.signal,
      dispatcher: agent,
    });
    const body = new Uint8Array(await res.body.arrayBuffer());
    return { status: res.statusCode, headers: flattenHeaders(res.headers), body };
  };
  // Bun swaps in its own undici, whose Agent has no close(): there is nothing of ours to release.
  return Object.assign(send, { close: async () => void (await agent.close?.()) });
}

function flattenHeaders(raw: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(", ") : value;
  }
  return out;
}
