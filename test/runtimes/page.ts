/**
 * The smoke scenario in a browser page (headless Chromium): the test calls `runSmoke(config)`.
 * libolm's WASM is served beside the page and given as a URL.
 */
import { smoke, type SmokeConfig } from "./smoke.js";

(globalThis as unknown as { runSmoke: (c: SmokeConfig) => Promise<unknown> }).runSmoke = (config) => smoke(config, { olmWasm: new URL("/olm.wasm", (globalThis as unknown as { location: { href: string } }).location.href).href });
