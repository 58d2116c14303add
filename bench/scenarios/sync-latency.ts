/**
 * Sync latency (A's state PUT answered -> B's sync loop sees the change): bench/sync-latency.ts,
 * run as it is (it starts its own Synapse), without its idle part; its summary line is parsed.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export type SyncLatencyResult = { changes: number; medianMs: number; p99Ms: number; maxMs: number; line: string } | { error: string };

export async function benchSyncLatency(size: "full" | "quick", log: (l: string) => void): Promise<SyncLatencyResult> {
  const changes = size === "full" ? 200 : 30;
  log(`sync: bench/sync-latency.ts --changes ${changes} --idle-seconds 0`);
  try {
    const { stdout } = await run(process.execPath, ["--import", "tsx", join(import.meta.dirname, "..", "sync-latency.ts"), "--changes", String(changes), "--idle-seconds", "0"], { timeout: 300_000 });
    const line = stdout.split("\n").find((l) => /median .* ms, p99 .* ms/.test(l))?.trim() ?? "";
    const m = /median ([\d.]+) ms, p99 ([\d.]+) ms, max ([\d.]+) ms/.exec(line);
    if (!m) return { error: `unexpected output: ${stdout.slice(0, 300)}` };
    log(`sync: ${line}`);
    return { changes, medianMs: Number(m[1]), p99Ms: Number(m[2]), maxMs: Number(m[3]), line };
  } catch (e) {
    return { error: (e as Error).message.split("\n")[0]! };
  }
}
