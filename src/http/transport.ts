/**
 * Transports: how a request leaves the process. Anything with the `Transport` signature can be
 * passed in (an msw handler set in tests, a platform's fetch). Without one, `defaultTransport()`
 * chooses up front from the runtime (docs/RUNTIMES.md): undici's keep-alive pool on Node, loaded
 * when the first request goes out; the runtime's own fetch everywhere else.
 */
import { TransportRefusedError } from "./errors.js";
import { loadNodeOnly, RUNTIME, type RuntimeName } from "./runtime.js";
import type { HttpRequest, HttpResponse, Transport } from "./types.js";
import type { undiciTransport as UndiciTransport } from "./undici-transport.js";

export type ClosableTransport = Transport & { close(): Promise<void> };

/** A transport over any WHATWG fetch (global fetch, a runtime's own); the default off Node. */
export function fetchTransport(fetchImpl: typeof fetch = (input, init) => globalThis.fetch(input, init)): Transport {
  return async (req) => {
    let res: Response;
    try {
      res = await fetchImpl(req.url, {
        method: req.method,
        headers: req.headers,
        body: req.body as Uint8Array<ArrayBuffer> | undefined,
        signal: req.signal,
      });
    } catch (e) {
      throw refused(e) ? new TransportRefusedError(e, req.method, req.url) : e;
    }
    const headers: Record<string, string> = {};
    res.headers.forEach((value, name) => {
      headers[name.toLowerCase()] = value;
    });
    return { status: res.status, headers, body: new Uint8Array(await res.arrayBuffer()) };
  };
}

/**
 * A failure the runtime will repeat for every attempt: Deno's permission errors (NotCapable since
 * Deno 2, PermissionDenied before), and workerd refusing I/O for an object of another request.
 */
export function refused(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  return e.name === "NotCapable" || e.name === "PermissionDenied" || /Cannot perform I\/O on behalf of a different request/.test(e.message);
}

/**
 * A transport that builds the real one when the first request goes out (undici costs ~20 MiB and
 * tens of milliseconds to load: `import("mxdb")` should not pay for it).
 */
export function lazyTransport(make: () => Promise<Transport & { close?(): Promise<void> }>): ClosableTransport {
  let made: Promise<Transport & { close?(): Promise<void> }> | undefined;
  const send: Transport = async (req: HttpRequest): Promise<HttpResponse> => (await (made ??= make()))(req);
  return Object.assign(send, { close: async () => void (made && (await (await made.catch(() => undefined))?.close?.())) });
}

/** The transport used when none is given, chosen from the runtime, not after a failed request. */
export function defaultTransport(runtime: RuntimeName = RUNTIME): ClosableTransport {
  if (runtime !== "node") return Object.assign(fetchTransport(), { close: async () => undefined });
  return lazyTransport(async () => {
    try {
      const { undiciTransport } = await loadNodeOnly<{ undiciTransport: typeof UndiciTransport }>("http/undici-transport.js");
      return undiciTransport();
    } catch {
      // Bundled for Node without the module beside it: Node's own fetch (undici inside) still works.
      return fetchTransport();
    }
  });
}
