/**
 * `npm run bench:databases`: write throughput on Synapse with SQLite beside Synapse with PostgreSQL
 * (the database production Synapses run on; src/homeserver/postgres.ts), rate limits lifted on both.
 * The two Synapses take turns within each repeat (only one runs at a time) so background load
 * spreads evenly. Writes bench/results/databases.{json,md}.
 *
 *   npm run bench:databases                    300 puts per variant, 3 repeats
 *   npm run bench:databases -- --puts 100 --repeats 1
 *
 * Variants, each on a fresh user and room: raw state PUTs at concurrency 16 (the homeserver's
 * ceiling), raw sequential PUTs (one event's latency), mxdb per-key puts (singleStateKey false,
 * default options, until flush), and mxdb in one shared state key (the default mode), until flush.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Memory } from "../src/index.js";
import { Homeserver, type DatabaseMode } from "../src/homeserver/synapse.js";
import { putState } from "../src/http/endpoints/state/put-state.js";
import { EVENT_TYPE } from "../src/db/format.js";
import { benchEnv, pool, type BenchEnv, type BenchUser } from "./lib/env.js";
import { msSince, round, roundSummary, summarize, type Summary } from "./lib/stats.js";

const RESULTS = join(import.meta.dirname, "results");
const { values } = parseArgs({ options: { puts: { type: "string", default: "300" }, repeats: { type: "string", default: "3" } } });
const n = Number(values.puts);
const repeats = Number(values.repeats);
const started = Date.now();
const log = (line: string) => console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${line}`);

const VARIANTS = {
  "raw-16": "raw state PUT, concurrency 16",
  "raw-sequential": "raw state PUT, sequential",
  "mxdb-per-key": "mxdb, concurrent puts, one state key per key, until flush()",
  "mxdb-shared-key": "mxdb, concurrent puts, one shared state key, until flush()",
} as const;
type Variant = keyof typeof VARIANTS;

const value = (i: number) => ({ i, text: `value ${i}`, at: 1_700_000_000_000 + i });

async function raw(user: BenchUser, room: string, concurrency: number): Promise<void> {
  await pool(
    Array.from({ length: n }, (_, i) => i),
    concurrency,
    async (i) => {
      await user.client.send(putState, { roomId: room, eventType: EVENT_TYPE, stateKey: `k-${i}`, content: { [`k-${i}`]: value(i) } });
    },
  );
}

async function mxdb(env: BenchEnv, user: BenchUser, room: string, singleStateKey: boolean): Promise<() => Promise<void>> {
  const db = await Memory.open({ homeserver: env.hs.baseUrl, accessToken: user.accessToken, rooms: { main: room }, singleStateKey });
  return async () => {
    try {
      await Promise.all(Array.from({ length: n }, (_, i) => db.put(`k-${i}`, value(i))));
      await db.flush();
      for (const i of [0, n - 1]) if ((await db.get(`k-${i}`)) === undefined) throw new Error("mxdb lost a put");
    } finally {
      await db.close();
    }
  };
}

/** One repeat of every variant on a Synapse with `database`: puts per second each. */
async function repeat(database: DatabaseMode): Promise<Record<Variant, number>> {
  const hs = await Homeserver.start({ rateLimits: "lifted", database, onProgress: log });
  const env = benchEnv(hs, "full", log);
  try {
    const warm = await env.user("warm");
    await raw(warm, await env.room(warm), 16);
    const out = {} as Record<Variant, number>;
    for (const variant of Object.keys(VARIANTS) as Variant[]) {
      const user = await env.user("db");
      const room = await env.room(user);
      // Memory.open (its first sync) is set-up, not measured.
      const run = variant === "raw-16" ? () => raw(user, room, 16) : variant === "raw-sequential" ? () => raw(user, room, 1) : await mxdb(env, user, room, variant === "mxdb-shared-key");
      const t = process.hrtime.bigint();
      await run();
      out[variant] = round(n / (msSince(t) / 1e3), 1);
      log(`${database}: ${variant}: ${out[variant]} puts/s`);
    }
    return out;
  } finally {
    await env.close();
    await hs.stop();
  }
}

const rates: Record<DatabaseMode, Record<Variant, number[]>> = { sqlite: {} as Record<Variant, number[]>, postgres: {} as Record<Variant, number[]> };
let versions = { synapse: "", postgres: "" };
for (let r = 0; r < repeats; r++) {
  log(`repeat ${r + 1}/${repeats}`);
  for (const database of ["sqlite", "postgres"] as const) {
    const got = await repeat(database);
    for (const [v, rate] of Object.entries(got)) (rates[database][v as Variant] ??= []).push(rate);
  }
}
{
  // Versions, for the record (a short-lived pair; not measured).
  const hs = await Homeserver.start({ database: "postgres" });
  versions = { synapse: hs.info.version, postgres: hs.info.postgres?.version ?? "" };
  await hs.stop();
}

const summary: Record<string, { label: string; sqlite: Summary; postgres: Summary; ratio: number }> = {};
for (const v of Object.keys(VARIANTS) as Variant[]) {
  const s = roundSummary(summarize(rates.sqlite[v]), 1);
  const p = roundSummary(summarize(rates.postgres[v]), 1);
  summary[v] = { label: VARIANTS[v], sqlite: s, postgres: p, ratio: round(p.median / s.median, 2) };
}
const meta = { date: new Date().toISOString(), puts: n, repeats, cpus: `${cpus().length} × ${cpus()[0]?.model ?? "?"}`, node: process.version, ...versions, wallSeconds: round((Date.now() - started) / 1000, 1) };
const md = [
  "# Synapse on SQLite and on PostgreSQL: write throughput",
  "",
  `${meta.date}; Synapse ${meta.synapse}, PostgreSQL ${meta.postgres} (default settings, fsync on); ${n} puts per variant, ${repeats} repeats (median, min-max); rate limits lifted; ${meta.cpus}, shared with other work. \`npm run bench:databases\` (bench/databases.ts).`,
  "",
  "| variant | SQLite puts/s | PostgreSQL puts/s | PostgreSQL / SQLite |",
  "| --- | ---: | ---: | ---: |",
  ...Object.values(summary).map((s) => `| ${s.label} | ${s.sqlite.median} (${s.sqlite.min}-${s.sqlite.max}) | ${s.postgres.median} (${s.postgres.min}-${s.postgres.max}) | ${s.ratio} |`),
  "",
].join("\n");
mkdirSync(RESULTS, { recursive: true });
writeFileSync(join(RESULTS, "databases.json"), `${JSON.stringify({ meta, rates, summary }, null, 2)}\n`);
writeFileSync(join(RESULTS, "databases.md"), md);
log(`wrote ${join(RESULTS, "databases.{json,md}")}`);
console.log(`\n${md}`);
