/**
 * History (docs/HISTORY.md) on a Synapse started here with rate limits lifted: a key written
 * `--versions` times (default 1,000), then the time to walk its whole history, to read it `at` the
 * oldest version (the longest walk), and a memory of `--keys` keys (default 1,000) exported through
 * db.entries() and imported into another room (time and state PUTs), singleStateKey true.
 *
 *   npm run bench:history [-- --versions 1000 --keys 1000]
 */
import { parseArgs } from "node:util";
import { Memory, memoryTraceSink } from "../src/index.js";
import { createRoom } from "../src/http/endpoints/rooms/create-room.js";
import { Homeserver } from "../src/homeserver/synapse.js";

const { values } = parseArgs({ options: { versions: { type: "string", default: "1000" }, keys: { type: "string", default: "1000" } } });
const versions = Number(values.versions);
const keyCount = Number(values.keys);

const hs = await Homeserver.start({ rateLimits: "lifted" });
try {
  const u = await hs.registerUser(`hist-bench-${Date.now()}`);
  const client = hs.client(u.accessToken);
  const room = async () => (await client.send(createRoom, { preset: "private_chat" })).room_id;
  const [a, b] = [await room(), await room()];
  const open = (roomId: string, trace?: ReturnType<typeof memoryTraceSink>) => Memory.open({ homeserver: hs.baseUrl, accessToken: u.accessToken, rooms: { main: roomId }, encryption: false, ...(trace ? { trace } : {}) });
  const db = await open(a);
  let t = performance.now();
  // One at a time, each awaited until accepted: one state event per version (a burst would coalesce).
  for (let i = 0; i < versions; i++) await db.put("k", { i });
  await db.flush();
  const writeS = (performance.now() - t) / 1000;
  t = performance.now();
  let n = 0;
  let oldest: { eventId: string; ts: number } | undefined;
  for await (const v of db.history("k")) {
    n++;
    oldest = v;
  }
  const historyMs = performance.now() - t;
  t = performance.now();
  const first = await db.get("k", { at: new Date(oldest!.ts) });
  const atMs = performance.now() - t;
  if (n !== versions || JSON.stringify(first) !== '{"i":0}') throw new Error(`history gave ${n} versions, at gave ${JSON.stringify(first)}`);

  await Promise.all(Array.from({ length: keyCount }, (_, i) => db.put(`key-${i}`, { i, note: "x" })));
  await db.flush();
  t = performance.now();
  const entries = await db.entries();
  const exportMs = performance.now() - t;
  await db.close();
  const trace = memoryTraceSink();
  const target = await open(b, trace);
  t = performance.now();
  await Promise.all(entries.map((e) => target.put(e.key, e.value)));
  await target.flush();
  const importMs = performance.now() - t;
  const puts = trace.records.filter((r) => r.method === "PUT" && r.url.includes("/state/")).length;
  await target.close();
  console.log(`Synapse ${hs.info.version}, rate limits lifted, singleStateKey true.\n`);
  console.log(`| measure | result |\n| --- | --- |`);
  console.log(`| write ${versions} versions of one key (each put awaited) | ${writeS.toFixed(1)} s |`);
  console.log(`| history of that key, all ${n} versions | ${historyMs.toFixed(0)} ms (${(historyMs / n).toFixed(2)} ms per version) |`);
  console.log(`| get at the oldest version's time | ${atMs.toFixed(0)} ms |`);
  console.log(`| export ${entries.length} keys (db.entries) | ${exportMs.toFixed(0)} ms |`);
  console.log(`| import them into another room | ${importMs.toFixed(0)} ms, ${puts} state PUT(s) |`);
} finally {
  await hs.stop();
}
