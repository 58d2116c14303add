/**
 * `npm run bench`: every scenario of issue 7 for mxdb, opsdroid and raw HTTP, in one run, on real
 * Synapses started here (rate limits lifted; a second one with Synapse's defaults for the
 * rate-limit scenario). Writes bench/results/latest.{json,md,svg}.
 *
 *   npm run bench                          the recorded run (under 15 minutes on 2 cores)
 *   npm run bench -- --quick --only get    small sizes, some scenarios (results/raw/ only)
 *   npm run bench -- --render              rewrite latest.md and latest.svg from latest.json
 *   npm run bench -- --only open --populate-seconds 3600
 *                                          build scenario 5's 10,000-key room in one go (it is kept)
 *   MXDB_BENCH_MSC4222=1 npm run bench ... the lifted Synapse with MSC4222 on (state_after), to compare
 *                                          the two sync paths; the default is stock (classic)
 *
 * Scenarios: get, burst, ratelimit, throughput, open, encrypted, footprint, sync.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { arch, cpus, platform, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Homeserver } from "../src/homeserver/synapse.js";
import { benchEnv, type BenchEnv } from "./lib/env.js";
import { round } from "./lib/stats.js";
import { renderMarkdown, renderSvg, type BenchResults } from "./report.js";
import { benchBurst } from "./scenarios/burst.js";
import { benchEncrypted } from "./scenarios/encrypted.js";
import { benchFootprint } from "./scenarios/footprint.js";
import { benchGet } from "./scenarios/get.js";
import { benchOpen } from "./scenarios/open.js";
import { benchRateLimited } from "./scenarios/rate-limited.js";
import { benchSyncLatency } from "./scenarios/sync-latency.js";
import { benchThroughput } from "./scenarios/throughput.js";
import { ensureOpsdroidVenv } from "./opsdroid.js";

const RESULTS = join(import.meta.dirname, "results");
const ALL = ["get", "burst", "ratelimit", "throughput", "open", "encrypted", "footprint", "sync"] as const;
type Name = (typeof ALL)[number];

const { values } = parseArgs({ options: { quick: { type: "boolean", default: false }, only: { type: "string" }, "populate-seconds": { type: "string" }, render: { type: "boolean", default: false } } });
if (values.render) {
  const latest = JSON.parse(readFileSync(join(RESULTS, "latest.json"), "utf8")) as BenchResults;
  writeFileSync(join(RESULTS, "latest.md"), renderMarkdown(latest));
  writeFileSync(join(RESULTS, "latest.svg"), renderSvg(latest));
  console.log(`rewrote ${join(RESULTS, "latest.{md,svg}")} from latest.json`);
  process.exit(0);
}
const only = values.only ? (values.only.split(",") as Name[]) : [...ALL];
for (const name of only) if (!ALL.includes(name)) throw new Error(`unknown scenario ${name}; one of ${ALL.join(", ")}`);
const size = values.quick ? "quick" : "full";
// Scenario 5's kept room is written within this budget per run (it resumes on the next run).
const populateSeconds = Number(values["populate-seconds"] ?? 480);
const started = Date.now();
const log = (line: string) => console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${line}`);

const results: BenchResults = {
  meta: {
    date: new Date().toISOString(),
    size,
    scenarios: only,
    node: process.version,
    platform: `${platform()} ${arch()}`,
    cpus: `${cpus().length} × ${cpus()[0]?.model ?? "?"}`,
    memoryGB: round(totalmem() / 2 ** 30, 1),
    synapse: "",
    opsdroid: undefined,
    wallSeconds: 0,
  },
};

const needsLifted = only.some((n) => n !== "ratelimit" && n !== "footprint" && n !== "sync");
let lifted: Homeserver | undefined;
let limited: Homeserver | undefined;
const envs: BenchEnv[] = [];
try {
  if (only.some((n) => ["get", "burst", "ratelimit", "throughput"].includes(n))) await ensureOpsdroidVenv(log);
  if (needsLifted) {
    lifted = await Homeserver.start({ rateLimits: "lifted", ...(process.env.MXDB_BENCH_MSC4222 === "1" ? { msc4222: true } : {}), onProgress: log });
    results.meta.synapse = lifted.info.version;
  }
  const env = lifted ? benchEnv(lifted, size, log) : undefined;
  if (env) envs.push(env);
  const step = async <K extends Name>(name: K, fn: () => Promise<unknown>) => {
    if (!only.includes(name)) return;
    log(`== ${name}`);
    const t = Date.now();
    (results as unknown as Record<string, unknown>)[name] = await fn();
    log(`== ${name} done in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  };
  await step("get", () => benchGet(env!));
  await step("burst", () => benchBurst(env!));
  await step("throughput", () => benchThroughput(env!));
  await step("open", () => benchOpen(env!, populateSeconds));
  await step("encrypted", () => benchEncrypted(env!));
  if (lifted) {
    await lifted.stop();
    lifted = undefined;
  }
  await step("ratelimit", async () => {
    limited = await Homeserver.start({ rateLimits: "default", onProgress: log });
    results.meta.synapse ||= limited.info.version;
    const env2 = benchEnv(limited, size, log);
    envs.push(env2);
    try {
      return await benchRateLimited(env2);
    } finally {
      await env2.close();
      await limited.stop();
      limited = undefined;
    }
  });
  await step("sync", () => benchSyncLatency(size, log));
  await step("footprint", () => benchFootprint(size, log));
} finally {
  for (const e of envs) await e.close();
  await lifted?.stop();
  await limited?.stop();
}

results.meta.wallSeconds = round((Date.now() - started) / 1000, 1);
const ops = (results.get?.opsdroidVersions ?? results.burst?.opsdroidVersions) as BenchResults["meta"]["opsdroid"];
if (ops) results.meta.opsdroid = ops;
mkdirSync(join(RESULTS, "raw"), { recursive: true });
const stamp = results.meta.date.replace(/[:.]/g, "-");
writeFileSync(join(RESULTS, "raw", `${stamp}.json`), `${JSON.stringify(results, null, 2)}\n`);
const complete = size === "full" && only.length === ALL.length;
const base = complete ? join(RESULTS, "latest") : join(RESULTS, "raw", `partial-${stamp}`);
writeFileSync(`${base}.json`, `${JSON.stringify(results, null, 2)}\n`);
writeFileSync(`${base}.md`, renderMarkdown(results));
writeFileSync(`${base}.svg`, renderSvg(results));
log(`wrote ${base}.{json,md,svg} (total ${results.meta.wallSeconds} s)`);
console.log(`\n${renderMarkdown(results)}`);
