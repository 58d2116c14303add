/**
 * A second process writing to the memory, for cross-process tests. Configured by the JSON in
 * MXDB_WRITER (homeserver, accessToken, roomId, prefix, count, singleStateKey); on "go" on stdin it
 * puts `count` keys `<prefix><i>` in bursts, flushes, prints "done <puts>", and on "close" closes
 * and exits. Staying open between the two lets it repair what a concurrent writer dropped.
 */
import { createInterface } from "node:readline";
import { Memory } from "../../src/index.js";

interface WriterConfig {
  homeserver: string;
  accessToken: string;
  roomId: string;
  prefix: string;
  count: number;
  singleStateKey?: boolean | string;
}

const config = JSON.parse(process.env.MXDB_WRITER ?? "{}") as WriterConfig;
const db = await Memory.open({
  homeserver: config.homeserver,
  accessToken: config.accessToken,
  rooms: { main: config.roomId },
  singleStateKey: config.singleStateKey ?? true,
  syncTimeoutMs: 5000,
  onError: (e) => process.stderr.write(`writer ${config.prefix}: ${String(e)}\n`),
});
process.stdout.write("ready\n");
for await (const line of createInterface({ input: process.stdin })) {
  if (line === "go") {
    const puts: Promise<void>[] = [];
    for (let i = 0; i < config.count; i++) {
      puts.push(db.put(`${config.prefix}${i}`, { by: config.prefix, i }));
      // Bursts of 20 a few milliseconds apart: many writes, interleaved with the other process's.
      if (i % 20 === 19) await new Promise((r) => setTimeout(r, 3));
    }
    await Promise.all(puts);
    await db.flush();
    process.stdout.write(`done ${config.count}\n`);
  } else if (line === "close") {
    await db.close();
    process.stdout.write("closed\n");
    process.exit(0);
  }
}
