/**
 * `npm run soak`: many more seeded schedules of the durability simulation (test/sim/) than npm test.
 *
 *   npm run soak -- --seeds 100000          seeds 1..100000
 *   npm run soak -- --minutes 10            as many seeds as fit in 10 minutes
 *   npm run soak -- --from 5000 --seeds 100 seeds 5000..5099
 *   npm run soak -- --seed 42 --verbose     replay one seed with its trace of requests and events
 *   --scale N                               N times longer scripts per process
 *   --tag T                                 only seeds whose scenario has tag T (msc4222, classic,
 *                                           no-faults, per-key, same-account-twice, ...)
 *   --memory N                              print the heap in use every N seeds (after a GC when
 *                                           run with node --expose-gc): a soak must stay flat
 * Exit code 1 when any seed breaks the property (or hangs).
 */
import { replayCommand, runSeed, type RunResult } from "../test/sim/harness.js";
import { scenarioFor, scenarioTags } from "../test/sim/scenario.js";

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function report(r: RunResult, verbose: boolean): void {
  if (verbose) {
    console.log(`seed ${r.seed}: ${r.scenario}`);
    for (const line of r.log) console.log(`  ${line}`);
  }
  for (const v of r.violations) console.log(`seed ${r.seed}: ${v.kind} ${v.op} (${v.key}): ${v.detail}\n  replay: ${replayCommand(r.seed)}`);
  for (const p of r.problems) console.log(`seed ${r.seed}: ${p}\n  replay: ${replayCommand(r.seed)}`);
  for (const v of r.excused) console.log(`seed ${r.seed}: (documented exception: a writer killed between its write and its flush) ${v.kind} ${v.op} (${v.key})`);
  if (verbose) console.log(`seed ${r.seed}: ${r.stats.ops} ops, ${r.stats.acknowledged} acknowledged, ${r.stats.kills} kills, digest ${r.digest.slice(0, 16)}`);
}

async function main(): Promise<number> {
  const verbose = process.argv.includes("--verbose");
  const scale = Number(arg("scale") ?? 1);
  const one = arg("seed");
  if (one !== undefined) {
    const r = await runSeed(Number(one), { scale });
    report(r, verbose);
    return r.violations.length + r.problems.length > 0 ? 1 : 0;
  }
  const from = Number(arg("from") ?? 1);
  const minutes = arg("minutes") === undefined ? undefined : Number(arg("minutes"));
  const count = Number(arg("seeds") ?? (minutes === undefined ? 1000 : Number.MAX_SAFE_INTEGER));
  const stopAt = minutes === undefined ? Infinity : Date.now() + minutes * 60_000;
  const started = Date.now();
  const kinds = new Map<string, number[]>();
  /** Tags of the failing seeds only: a long soak keeps nothing per passing seed. */
  const tagsBySeed = new Map<number, string[]>();
  const tagTotals = new Map<string, number>();
  let ran = 0;
  let failed = 0;
  let ops = 0;
  let acked = 0;
  let excusedSeeds = 0;
  const tag = arg("tag");
  const memoryEvery = Number(arg("memory") ?? 0);
  for (let seed = from; seed < from + count && Date.now() < stopAt; seed++) {
    if (tag !== undefined && !scenarioTags(scenarioFor(seed, scale)).includes(tag)) continue;
    const r = await runSeed(seed, { scale });
    ran++;
    for (const t of r.tags) tagTotals.set(t, (tagTotals.get(t) ?? 0) + 1);
    ops += r.stats.ops;
    acked += r.stats.acknowledged;
    if (r.excused.length > 0) excusedSeeds++;
    const found = [...new Set([...r.violations.map((v) => v.kind), ...r.problems.map((p) => p.split(":")[0]!)])];
    if (found.length > 0) {
      failed++;
      tagsBySeed.set(seed, r.tags);
      for (const k of found) kinds.set(k, [...(kinds.get(k) ?? []), seed]);
      if (failed <= 20) report(r, verbose);
    }
    if (memoryEvery > 0 && ran % memoryEvery === 0) printMemory(ran);
  }
  const secs = (Date.now() - started) / 1000;
  console.log(`soak: ${ran} seeds from ${from} in ${secs.toFixed(1)} s (${(ran / secs).toFixed(0)}/s); ${ops} ops, ${acked} acknowledged; ${failed} seeds failed; ${excusedSeeds} lost an op only to a writer killed between its write and its flush (the documented exception)`);
  for (const [k, seeds] of kinds) {
    console.log(`  ${k}: ${seeds.length} seeds, e.g. ${seeds.slice(0, 8).join(", ")}`);
    // Failing share of the seeds with each tag: where to look first.
    const byTag = new Map<string, number>();
    for (const seed of seeds) for (const t of tagsBySeed.get(seed) ?? []) byTag.set(t, (byTag.get(t) ?? 0) + 1);
    console.log(`    ${[...tagTotals.keys()].sort().map((t) => `${t} ${byTag.get(t) ?? 0}/${tagTotals.get(t)}`).join(", ")}`);
  }
  return failed > 0 ? 1 : 0;
}

function printMemory(ran: number): void {
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  console.log(`memory after ${ran} seeds: heap used ${(m.heapUsed / 1e6).toFixed(1)} MB, rss ${(m.rss / 1e6).toFixed(0)} MB`);
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e);
    process.exit(2);
  },
);
