/**
 * The smoke scenario as a Cloudflare Worker (workerd): POST the config, get the step results. The
 * whole scenario runs inside one request, as a Memory per request must (docs/RUNTIMES.md).
 * olm.wasm is a module of the worker: workerd hands it over compiled.
 */
// @ts-expect-error: a module the workerd config provides (the bundle leaves it external)
import olmWasm from "./olm.wasm";
import { smoke, type SmokeConfig } from "./smoke.js";

export default {
  async fetch(request: Request): Promise<Response> {
    const config = (await request.json()) as SmokeConfig;
    return Response.json(await smoke(config, { olmWasm: olmWasm as object }));
  },
};
