/**
 * Replication latency across federation: two Synapses on loopback federating over TLS
 * (src/homeserver/federation.ts, rate limits lifted), a Memory of a user on server A puts, a Memory
 * of a user on server B watches:
 *   npm run bench:federation -- [--puts 100] [--single-state-key]
 *
 * The clock starts when A's `put` has resolved (server A accepted the state event) and stops when
 * B's `watch` yields the value: A's Synapse sends it to B's over federation, B's Synapse checks and
 * stores it, B's sync long-poll returns it. One put at a time. Reported: median, p99, min, max.
 */
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { Federation } from "../src/homeserver/federation.js";
import { Memory } from "../src/index.js";
import { summarize } from "./lib/stats.js";

const { values } = parseArgs({ options: { puts: { type: "string", default: "100" }, "single-state-key": { type: "boolean", default: false } } });
const N = Number(values.puts);
const singleStateKey = values["single-state-key"];

const fed = await Federation.start({ servers: 2, rateLimits: "lifted", onProgress: (l) => process.stderr.write(`# ${l}\n`) });
try {
  const alice = await fed.registerUser(0, "bench-a");
  const bob = await fed.registerUser(1, "bench-b");
  const roomId = await fed.sharedRoom(alice, [bob]);
  const open = (u: typeof alice) => Memory.open({ homeserver: u.server.baseUrl, accessToken: u.accessToken, rooms: { main: roomId }, singleStateKey });
  const a = await open(alice);
  const b = await open(bob);
  const seenAt = new Map<number, number>();
  const waiting = new Map<number, () => void>();
  const watching = (async () => {
    for await (const c of b.watch()) {
      const i = (c.value as { i?: number } | undefined)?.i;
      if (typeof i !== "number") continue;
      seenAt.set(i, performance.now());
      waiting.get(i)?.();
      if (i === N - 1) break;
    }
  })();
  const latencies: number[] = [];
  // Warm-up (connections, keys fetched over federation, caches): 5 puts not counted.
  for (let i = -5; i < N; i++) {
    await a.put("latency", { i });
    const accepted = performance.now();
    if (!seenAt.has(i)) await new Promise<void>((r) => waiting.set(i, r));
    waiting.delete(i);
    if (i >= 0) latencies.push(Math.max(0, seenAt.get(i)! - accepted));
  }
  await watching;
  const s = summarize(latencies);
  console.log(`replication A -> B over ${N} puts (${singleStateKey ? "one shared state key" : "per-key"}; put resolved on A -> B's watch yields it), Synapse ${fed.servers[0]!.info.version}, 2 servers federating over TLS on loopback:`);
  console.log(`  median ${s.median.toFixed(1)} ms, p99 ${s.p99.toFixed(1)} ms, min ${s.min.toFixed(1)} ms, max ${s.max.toFixed(1)} ms`);
  await Promise.all([a.close(), b.close()]);
} finally {
  await fed.stop();
}
