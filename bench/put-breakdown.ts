/**
 * Where the time of many puts goes (issue 12): `--values` values put `--round` (50) at a time into a fresh room
 * on a Synapse with rate limits lifted, the time of each round (does it grow with the room?), the
 * client's CPU time, and from the wire trace the requests per endpoint with their summed time and
 * statuses. `--raw` sends the same writes as bare state PUTs (and `--raw-events` a bare event before
 * each), with no mxdb and no sync loop, to tell the homeserver's own cost from ours. For a CPU
 * profile of the client: node --cpu-prof --import tsx bench/put-breakdown.ts ...
 *
 *   npx tsx bench/put-breakdown.ts [-- --values 1000 --round 50 --write-concurrency 32 --room-write-concurrency 1 --encrypted --single-state-key | --raw [--raw-events]]
 */
import { parseArgs } from "node:util";
import { Memory, MemoryStore } from "../src/index.js";
import { send } from "../src/http/endpoints/events/send.js";
import { createRoom } from "../src/http/endpoints/rooms/create-room.js";
import { putState } from "../src/http/endpoints/state/put-state.js";
import { Homeserver } from "../src/homeserver/synapse.js";
import type { TraceRecord } from "../src/http/trace.js";

const { values } = parseArgs({
  options: {
    values: { type: "string", default: "1000" },
    encrypted: { type: "boolean", default: false },
    "single-state-key": { type: "boolean", default: false },
    raw: { type: "boolean", default: false },
    "raw-events": { type: "boolean", default: false },
    round: { type: "string", default: "50" },
    "write-concurrency": { type: "string", default: "32" },
    // Default: mxdb's (1); Infinity for the behaviour before the per-room limit.
    "room-write-concurrency": { type: "string" },
  },
});
const n = Number(values.values);
const round = Number(values.round);
const hs = await Homeserver.start({ rateLimits: "lifted", msc4222: true });
try {
  const u = await hs.registerUser(`breakdown-${Date.now()}`);
  const admin = hs.client(u.accessToken);
  const { room_id: roomId } = await admin.send(createRoom, {
    preset: "private_chat",
    initial_state: values.encrypted ? [{ type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } }] : [],
  });
  const counts = new Map<string, { n: number; ms: number; status: Record<string, number> }>();
  let phase = "open";
  const trace = (r: TraceRecord) => {
    const path = new URL(r.url).pathname
      .replace(/![^/]+/g, "!room")
      .replace(/\/send\/([^/]+)\/[^/]+/, "/send/$1/{txnId}")
      .replace(/sendToDevice\/([^/]+)\/[^/]+/, "sendToDevice/$1/{txnId}")
      .replace(/dev\.opsdroid\.database\/.+/, "dev.opsdroid.database/{key}")
      .replace(/\/user\/[^/]+\//, "/user/{userId}/");
    const k = `${phase} ${r.method} ${path}`;
    const c = counts.get(k) ?? { n: 0, ms: 0, status: {} };
    c.n++;
    c.ms += r.durationMs;
    c.status[String(r.status)] = (c.status[String(r.status)] ?? 0) + 1;
    counts.set(k, c);
  };
  const db = values.raw
    ? undefined
    : await Memory.open({ homeserver: hs.baseUrl, userId: u.userId, password: u.password, rooms: { main: roomId }, singleStateKey: values["single-state-key"], writeConcurrency: Number(values["write-concurrency"]), ...(values["room-write-concurrency"] ? { roomWriteConcurrency: Number(values["room-write-concurrency"]) } : {}), store: new MemoryStore(), trace });
  const put = async (i: number) => {
    const key = `key-${i}`;
    const value = { i, text: `value ${i}` };
    if (db) return db.put(key, value);
    if (values["raw-events"]) await admin.send(send, { roomId, eventType: "m.room.encrypted", txnId: `raw-${i}`, content: { [key]: value } });
    await admin.send(putState, { roomId, eventType: "dev.opsdroid.database", stateKey: key, content: { [key]: value } });
  };
  phase = "put";
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const rounds: string[] = [];
  let tb = t0;
  for (let i = 0; i < n; i += round) {
    await Promise.all(Array.from({ length: Math.min(round, n - i) }, (_, j) => put(i + j)));
    const now = performance.now();
    rounds.push((now - tb).toFixed(0));
    tb = now;
  }
  phase = "flush";
  await db?.flush();
  const cpu = process.cpuUsage(cpu0);
  console.log(`${n} values, ${values.raw ? (values["raw-events"] ? "raw event + state PUT each" : "raw state PUTs") : `mxdb, ${values.encrypted ? "encrypted" : "plaintext"}, singleStateKey ${values["single-state-key"]}, writeConcurrency ${values["write-concurrency"]}, roomWriteConcurrency ${values["room-write-concurrency"] ?? "default"}`}`);
  console.log(`until flush: ${((performance.now() - t0) / 1000).toFixed(1)} s; client CPU user ${(cpu.user / 1e6).toFixed(1)} s, system ${(cpu.system / 1e6).toFixed(1)} s`);
  console.log(`ms per round of ${round}: ${rounds.join(" ")}`);
  phase = "close";
  await db?.close();
  await admin.close();
  for (const [k, c] of [...counts].sort()) console.log(`${k}: ${c.n} requests, ${c.ms.toFixed(0)} ms summed, ${JSON.stringify(c.status)}`);
} finally {
  await hs.stop();
}
