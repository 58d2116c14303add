/**
 * The open curve: opening rooms of 1,000, 10,000 and 100,000 keys (singleStateKey false), cold (an
 * empty store) and warm (the store a cold start left), each in a fresh process: time to the first
 * `get`, resident memory added over the process before Memory.open, the store bytes the open wrote,
 * and the store bytes one later sync wrote (one key changed by another writer). The room is served
 * by an in-process fake homeserver, so this is mxdb's cost alone; bench/scenarios/open.ts measures
 * 10,000 keys against a real Synapse.
 *
 *   npm run bench:open-curve [-- --sizes 1000,10000,100000 --json]
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { build } from "esbuild";
import { projectRoot } from "../src/homeserver/venv.js";

const root = projectRoot();
const { values } = parseArgs({ options: { sizes: { type: "string", default: "1000,10000,100000" }, json: { type: "boolean", default: false } } });

interface Point {
  keys: number;
  kind: "cold" | "warm";
  firstGetMs: number;
  addedMiB: number;
  rssMiB: number;
  openBytes: number;
  oneSyncBytes: number;
}

const outDir = join(root, "bench", "results", "raw");
mkdirSync(outDir, { recursive: true });
const child = join(outDir, "open-curve-child.mjs");
// Bundled and run by plain node, as an application runs the library (the TypeScript loader's memory is not counted).
await build({ entryPoints: [join(root, "bench", "scenarios", "open-curve-child.ts")], bundle: true, platform: "node", format: "esm", target: "node20", packages: "external", outfile: child, logLevel: "error" });

function run(keys: number, store: string, kind: Point["kind"]): Point {
  const out = execFileSync(process.execPath, ["--expose-gc", "--max-old-space-size=4096", child], { env: { ...process.env, MXDB_BENCH_CURVE: JSON.stringify({ keys, store, change: kind === "cold" ? "key-0" : "key-1" }) }, encoding: "utf8", maxBuffer: 1 << 20, timeout: 600_000 });
  const r = JSON.parse(out.trim().split("\n").at(-1)!) as { firstGetMs: number; baselineRss: number; rss: number; openBytes: number; oneSyncBytes: number; found: boolean };
  if (!r.found) throw new Error(`open curve: key-${keys - 1} not found after opening ${keys} keys`);
  return { keys, kind, firstGetMs: r.firstGetMs, addedMiB: (r.rss - r.baselineRss) / 2 ** 20, rssMiB: r.rss / 2 ** 20, openBytes: r.openBytes, oneSyncBytes: r.oneSyncBytes };
}

const points: Point[] = [];
for (const keys of values.sizes.split(",").map(Number)) {
  const store = mkdtempSync(join(tmpdir(), "mxdb-curve-"));
  try {
    points.push(run(keys, store, "cold"));
    points.push(run(keys, store, "warm"));
  } finally {
    rmSync(store, { recursive: true, force: true });
  }
}
if (values.json) console.log(JSON.stringify(points, null, 2));
else {
  console.log(`Node ${process.version}; fake homeserver in process; one run per point.\n`);
  console.log("| keys | start | first get | RSS | RSS added by the open | store bytes written by the open | by one later sync |\n| --- | --- | --- | --- | --- | --- | --- |");
  const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
  for (const p of points) console.log(`| ${p.keys.toLocaleString("en")} | ${p.kind} | ${p.firstGetMs.toFixed(0)} ms | ${p.rssMiB.toFixed(0)} MiB | ${p.addedMiB.toFixed(1)} MiB | ${kb(p.openBytes)} | ${kb(p.oneSyncBytes)} |`);
}
