/**
 * Sync latency and idle cost, on a real Synapse started here (loopback, rate limits lifted):
 *   npx tsx bench/sync-latency.ts [--changes 200] [--idle-seconds 60]
 *
 * 1. Latency: A PUTs a state event; the clock starts when the PUT's answer has arrived and stops
 *    when B's SyncLoop emits the change. A change B sees before A's PUT answer arrives counts as 0.
 *    Reported: median, p99, max over --changes changes (one at a time).
 * 2. Idle cost: with the default long-poll timeout (30 s) and nothing happening, how many /sync
 *    requests B sends in --idle-seconds.
 */
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { createRoom } from "../src/http/endpoints/rooms/create-room.js";
import { join } from "../src/http/endpoints/rooms/join.js";
import { putState } from "../src/http/endpoints/state/put-state.js";
import { Homeserver } from "../src/homeserver/synapse.js";
import { MemoryStore } from "../src/store/store.js";
import { SyncLoop } from "../src/sync/sync-loop.js";

const { values } = parseArgs({ options: { changes: { type: "string", default: "200" }, "idle-seconds": { type: "string", default: "60" } } });
const N = Number(values.changes);
const IDLE_S = Number(values["idle-seconds"]);
const DB = "dev.opsdroid.database";

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

const hs = await Homeserver.start({ rateLimits: "lifted", onProgress: (l) => process.stderr.write(`# ${l}\n`) });
try {
  const [a, b] = await Promise.all([hs.registerUser("bench-a"), hs.registerUser("bench-b")]);
  const A = hs.client(a.accessToken);
  const B = hs.client(b.accessToken);
  const { room_id: roomId } = await A.send(createRoom, { preset: "private_chat", invite: [b.userId] });
  await B.send(join, { roomIdOrAlias: roomId });

  const loop = new SyncLoop({ http: B, userId: b.userId, store: new MemoryStore() });
  const seenAt = new Map<string, number>();
  const waiting = new Map<string, () => void>();
  loop.on("change", (c) => {
    if (c.type !== DB || !c.event) return;
    seenAt.set(c.event.event_id, performance.now());
    waiting.get(c.event.event_id)?.();
  });
  loop.start();
  await loop.whenSynced();

  // Warm-up: connections and caches.
  for (let i = 0; i < 5; i++) await A.send(putState, { roomId, eventType: DB, stateKey: "warmup", content: { i } });

  const latencies: number[] = [];
  let seenBeforeAnswer = 0;
  for (let i = 0; i < N; i++) {
    const { event_id } = await A.send(putState, { roomId, eventType: DB, stateKey: "", content: { i } });
    const answered = performance.now();
    if (!seenAt.has(event_id)) await new Promise<void>((r) => waiting.set(event_id, r));
    waiting.delete(event_id);
    const seen = seenAt.get(event_id)!;
    if (seen < answered) seenBeforeAnswer++;
    latencies.push(Math.max(0, seen - answered));
  }
  latencies.sort((x, y) => x - y);
  console.log(`sync latency over ${N} changes (PUT answered -> B's change event), Synapse ${hs.info.version}:`);
  console.log(`  median ${quantile(latencies, 0.5).toFixed(1)} ms, p99 ${quantile(latencies, 0.99).toFixed(1)} ms, max ${latencies.at(-1)!.toFixed(1)} ms, min ${latencies[0]!.toFixed(1)} ms; seen before the PUT answer: ${seenBeforeAnswer}`);

  if (IDLE_S > 0) {
    await new Promise((r) => setTimeout(r, 1000)); // let the last long-poll settle
    const before = loop.requestCount;
    await new Promise((r) => setTimeout(r, IDLE_S * 1000));
    console.log(`idle: ${loop.requestCount - before} /sync requests in ${IDLE_S} s (timeout 30000 ms)`);
  }
  await loop.stop();
  await Promise.all([A.close(), B.close()]);
} finally {
  await hs.stop();
}
