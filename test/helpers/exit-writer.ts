/**
 * A writer process that exits the moment `await db.flush(); await db.close()` returns (issue 10:
 * the guarantee must hold even then). Configured by the JSON in MXDB_EXIT_WRITER. It opens, prints
 * "ready", and on "go" on stdin puts `count` keys `<by>-<i>` = {by, i, run} in bursts; then it
 * flushes, closes, prints one line `acked <json>` (every put that resolved, key -> value, and every
 * rejection) and exits at once.
 */
import { createInterface } from "node:readline";
import { Memory } from "../../src/index.js";

export interface ExitWriterConfig {
  homeserver: string;
  accessToken: string;
  roomId: string;
  by: string;
  run: number;
  count: number;
  singleStateKey: boolean;
  /** A store directory of its own; default none (memory only). */
  store?: string;
  /** A wire trace file (JSON lines), to replay a run that lost a write. */
  trace?: string;
}

export interface ExitWriterReport {
  acked: Record<string, unknown>;
  rejected: Array<{ key: string; error: string }>;
  flushMs: number;
}

const config = JSON.parse(process.env.MXDB_EXIT_WRITER ?? "{}") as ExitWriterConfig;
const db = await Memory.open({
  homeserver: config.homeserver,
  accessToken: config.accessToken,
  rooms: { main: config.roomId },
  singleStateKey: config.singleStateKey,
  ...(config.store ? { store: config.store } : {}),
  ...(config.trace ? { trace: config.trace } : {}),
  syncTimeoutMs: 5000,
  // A Synapse with MSC4222 on does not list it in /versions: the MSC4222 durability run forces it.
  stateAfter: process.env.MXDB_DURABILITY_MSC4222 === "1" ? "unstable" : "auto",
  onError: (e) => process.stderr.write(`writer ${config.by}: ${String(e)}\n`),
});
process.stdout.write("ready\n");
const lines = createInterface({ input: process.stdin });
for await (const line of lines) if (line === "go") break;

const report: ExitWriterReport = { acked: {}, rejected: [], flushMs: 0 };
const puts: Promise<void>[] = [];
for (let i = 0; i < config.count; i++) {
  const key = `${config.by}-${i}`;
  const value = { by: config.by, i, run: config.run };
  puts.push(
    db.put(key, value).then(
      () => void (report.acked[key] = value),
      (e: unknown) => void report.rejected.push({ key, error: String(e) }),
    ),
  );
  // Bursts of 20 a few milliseconds apart: interleaved with the other writers' puts.
  if (i % 20 === 19) await new Promise((r) => setTimeout(r, 3));
}
await Promise.all(puts);
const flushStarted = Date.now();
await db.flush();
await db.close();
report.flushMs = Date.now() - flushStarted;
process.stdout.write(`acked ${JSON.stringify(report)}\n`, () => process.exit(0));
