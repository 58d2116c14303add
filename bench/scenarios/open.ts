/**
 * Scenario 5: opening a room that holds 10,000 keys (singleStateKey false: one state event per
 * key; with true they would not fit in one 64 KB event). The room is kept between runs
 * (../lib/big-room.ts). Each start runs in a child process (./open-child.ts, bundled and run by
 * plain node, as an application would run the built library) so resident memory is its own:
 * - cold: nothing stored, the first sync brings the room's whole state;
 * - warm: restarted with the FileStore a previous start left (the saved picture, then an
 *   incremental sync).
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { openBigRoom } from "../lib/big-room.js";
import type { BenchEnv } from "../lib/env.js";
import { round, roundSummary, summarize, type Summary } from "../lib/stats.js";

const run = promisify(execFile);

export interface OpenRun {
  kind: "cold" | "warm";
  openedMs: number;
  firstGetMs: number;
  baselineRss: number;
  rss: number;
  heapUsed: number;
  found: boolean;
  keys: number;
}

export interface OpenResult {
  keys: number;
  target: number;
  writeSeconds: number;
  runs: OpenRun[];
  cold: { firstGetMs: Summary; rssMB: Summary; baselineRssMB: Summary };
  warm: { firstGetMs: Summary; rssMB: Summary } | undefined;
}

/** Bundle the child with esbuild (our code inlined, packages from node_modules as installed). */
async function bundleChild(): Promise<string> {
  const esbuild = (await import("esbuild")) as typeof import("esbuild");
  const outDir = join(import.meta.dirname, "..", "results", "raw");
  mkdirSync(outDir, { recursive: true });
  const outfile = join(outDir, "open-child.mjs");
  await esbuild.build({ entryPoints: [join(import.meta.dirname, "open-child.ts")], bundle: true, platform: "node", format: "esm", target: "node20", packages: "external", outfile, logLevel: "error" });
  return outfile;
}

export async function benchOpen(env: BenchEnv, populateSeconds: number): Promise<OpenResult> {
  const target = env.size === "full" ? 10_000 : 1_000;
  const cold = env.size === "full" ? 3 : 2;
  const warm = env.size === "full" ? 3 : 1;
  const child = await bundleChild();
  const room = await openBigRoom(target, populateSeconds, env.log);
  const store = mkdtempSync(join(tmpdir(), "mxdb-bench-store-"));
  try {
    if (room.keys < target) env.log(`open: only ${room.keys}/${target} keys written so far (time budget); measuring with those`);
    const runs: OpenRun[] = [];
    const start = async (kind: "cold" | "warm", storeDir?: string, label: string = kind) => {
      const input = { homeserver: room.hs.baseUrl, accessToken: room.member.accessToken, roomId: room.roomId, key: `key-${room.keys - 1}`, ...(storeDir ? { store: storeDir } : {}) };
      const { stdout } = await run(process.execPath, ["--expose-gc", child], { env: { ...process.env, MXDB_BENCH_OPEN: JSON.stringify(input) }, timeout: 300_000, maxBuffer: 1 << 20 });
      const one = JSON.parse(stdout.trim().split("\n").at(-1)!) as Omit<OpenRun, "kind">;
      if (!one.found || one.keys < room.keys) throw new Error(`open: the child saw ${one.keys} keys (found ${one.found}), expected ${room.keys}`);
      env.log(`open: ${label} start: first get after ${one.firstGetMs.toFixed(0)} ms, rss ${(one.rss / 2 ** 20).toFixed(1)} MB (before open ${(one.baselineRss / 2 ** 20).toFixed(1)} MB)`);
      return { kind, ...one, openedMs: round(one.openedMs, 1), firstGetMs: round(one.firstGetMs, 1) };
    };
    // Not counted: warms Synapse's caches (it may just have started) and leaves a FileStore behind.
    await start("cold", store, "warm-up (not counted)");
    for (let r = 0; r < cold; r++) runs.push(await start("cold"));
    for (let r = 0; r < warm; r++) runs.push(await start("warm", store));
    const mb = (x: number) => x / 2 ** 20;
    const of = (kind: OpenRun["kind"]) => runs.filter((x) => x.kind === kind);
    return {
      keys: room.keys,
      target,
      writeSeconds: round(room.writeSeconds, 1),
      runs,
      cold: {
        firstGetMs: roundSummary(summarize(of("cold").map((r) => r.firstGetMs)), 1),
        rssMB: roundSummary(summarize(of("cold").map((r) => mb(r.rss))), 1),
        baselineRssMB: roundSummary(summarize(of("cold").map((r) => mb(r.baselineRss))), 1),
      },
      warm: warm > 0 ? { firstGetMs: roundSummary(summarize(of("warm").map((r) => r.firstGetMs)), 1), rssMB: roundSummary(summarize(of("warm").map((r) => mb(r.rss))), 1) } : undefined,
    };
  } finally {
    rmSync(store, { recursive: true, force: true });
    await room.close();
  }
}
