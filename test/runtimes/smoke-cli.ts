/**
 * The smoke scenario as a program, for Node, Bun and Deno: the config as JSON on stdin, the step
 * results as one JSON line on stdout. Optional `olmWasmBase64` in the config: the WASM bytes, for a
 * Deno run that may not read files.
 */
import process from "node:process";
import { smoke, type SmokeConfig } from "./smoke.js";

let input = "";
for await (const chunk of process.stdin) input += typeof chunk === "string" ? chunk : new TextDecoder().decode(chunk as Uint8Array);
const config = JSON.parse(input) as SmokeConfig & { olmWasmBase64?: string };
const olmWasm = config.olmWasmBase64 === undefined ? undefined : Uint8Array.from(atob(config.olmWasmBase64), (c) => c.charCodeAt(0));
const results = await smoke(config, olmWasm ? { olmWasm } : {});
process.stdout.write(`${JSON.stringify(results)}\n`);
// Nothing of the memory may keep the program alive; exit anyway so a leak cannot hang the matrix.
process.exit(0);
