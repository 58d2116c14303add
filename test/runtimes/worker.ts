/**
 * The smoke scenario as a Cloudflare Worker (workerd): POST the config, get the step results. The
 * whole scenario runs inside one request, as a Memory per request must (docs/RUNTIMES.md).
 * olm.wasm is a module of the worker: workerd hands it over compiled.
 *
 * Also the wrong way, to check it fails fast: POST /stale/open opens a Memory and keeps it in a
 * global; POST /stale/use then uses it from a later request and reports how each call ended and
 * how long it took.
 */
// @ts-expect-error: a module the workerd config provides (the bundle leaves it external)
import olmWasm from "./olm.wasm";
import { Memory } from "../../src/index.js";
import { smoke, type SmokeConfig } from "./smoke.js";

let kept: Memory | undefined;

async function timed(fn: () => Promise<unknown>): Promise<{ ms: number; error?: string }> {
  const t = Date.now();
  try {
    await fn();
    return { ms: Date.now() - t };
  } catch (e) {
    return { ms: Date.now() - t, error: e instanceof Error ? e.name : String(e) };
  }
}

export default {
  async fetch(request: Request): Promise<Response> {
    const path = new URL(request.url).pathname;
    const config = (await request.json()) as SmokeConfig;
    if (path === "/stale/open") {
      kept = await Memory.open({ homeserver: config.homeserver, accessToken: config.a.accessToken, deviceId: config.a.deviceId, rooms: { main: config.plainRoom }, encryption: false, syncTimeoutMs: 2_000, timeoutMs: 30_000 });
      await kept.put(`${config.prefix}-stale`, { n: 1 });
      await kept.flush();
      return Response.json({ opened: true });
    }
    if (path === "/stale/use") {
      const db = kept!;
      const put = await timed(() => db.put(`${config.prefix}-stale`, { n: 2 }));
      const flush = await timed(() => db.flush());
      const close = await timed(() => db.close());
      return Response.json({ put, flush, close });
    }
    return Response.json(await smoke(config, { olmWasm: olmWasm as object }));
  },
};
