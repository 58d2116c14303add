/**
 * Split brain across two federating Synapses (docs/FEDERATION.md "Split brain"): federation is cut,
 * three writers (one on A, two on B, one of which exits before the heal) put conflicting and
 * non-conflicting keys, federation heals, and both servers must hold the same state. In per-key
 * mode every acknowledged op is kept, or replaced by a concurrent op on the same key
 * (docs/DURABILITY.md). With one shared state key, state resolution keeps one side's last event, and
 * the live writers merge the other side's acknowledged ops back (docs/DURABILITY.md "Late forks"),
 * those of the writer that exited before the heal included. A few seeds; figures go to t.diagnostic.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { federationSuite } from "../helpers/federation.js";
import { splitBrainRun, type SplitBrainRun } from "../helpers/split-brain.js";

// Synapse retries a failed transaction after 4 s, 16 s, then every 60 s: with that default the heal
// was seen 19 to 40 s late (docs/FEDERATION.md); a 1 s cap measures the merge, not the retry timer.
const suite = federationSuite({ cuttable: true, maxLongRetryDelay: "1s" });
const SEEDS = (process.env.MXDB_SPLIT_BRAIN_SEEDS ?? "1,2,3").split(",").map(Number);

function figures(run: SplitBrainRun): string {
  const lost = Object.entries(run.lostBy).map(([w, n]) => `${w} ${n}`).join(", ");
  return `seed ${run.seed}: converged ${run.convergenceMs} ms after the heal (lost then ${run.lostAtConvergence}), merged ${run.mergedMs} ms after; kept ${run.kept}/${run.total}, outvoted by a concurrent op ${run.outvoted.length}, lost ${run.lost.length} (by writer: ${lost})`;
}

test("per-key mode: after a partition and its heal both servers agree and keep every acknowledged op", { timeout: 600_000 }, async (t) => {
  for (const seed of SEEDS) {
    const run = await splitBrainRun(suite, seed, false);
    t.diagnostic(figures(run));
    assert.deepEqual(run.onB, run.onA, `seed ${seed}: server B's memory equals server A's`);
    assert.deepEqual(run.lost, [], `seed ${seed}: acknowledged ops lost`);
  }
});

test("one shared state key: after a partition and its heal both servers agree, and the live writers merge back the side that lost, an exited writer's ops included", { timeout: 600_000 }, async (t) => {
  for (const seed of SEEDS) {
    const run = await splitBrainRun(suite, seed, true);
    t.diagnostic(figures(run));
    if (run.lost.length > 0) t.diagnostic(`seed ${seed} lost: ${run.lost.join("; ")}`);
    assert.deepEqual(run.onB, run.onA, `seed ${seed}: server B's memory equals server A's`);
    assert.deepEqual(run.lost, [], `seed ${seed}: acknowledged ops lost`);
  }
});
