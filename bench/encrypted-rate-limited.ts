/**
 * Encrypted beside plaintext puts under stock Synapse's rate limits (rc_message: 0.2 events/s after a
 * burst of 10, per user): one round of concurrent puts (distinct keys, one shared state key) per kind,
 * each kind its own fresh user, timed until flush(). The wire trace counts the events sent and the 429
 * answers waited out.
 *
 *   npx tsx bench/encrypted-rate-limited.ts [-- --values 20]
 */
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { Memory, MemoryStore } from "../src/index.js";
import { createRoom } from "../src/http/endpoints/rooms/create-room.js";
import { Homeserver } from "../src/homeserver/synapse.js";
import type { TraceRecord } from "../src/http/trace.js";

const { values } = parseArgs({ options: { values: { type: "string", default: "20" } } });
const N = Number(values.values);
const load = () => loadavg().map((x) => x.toFixed(2)).join(" ");
const loadBefore = load();
const date = new Date().toISOString();
const hs = await Homeserver.start({ rateLimits: "default", msc4222: true });
const rows: string[] = [];
try {
  for (const encrypted of [false, true]) {
    const u = await hs.registerUser(`rl-bench-${encrypted ? "enc" : "plain"}-${Date.now()}`);
    const admin = hs.client(u.accessToken);
    const { room_id: roomId } = await admin.send(createRoom, {
      preset: "private_chat",
      initial_state: encrypted ? [{ type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } }] : [],
    });
    await admin.close();
    const seen = { events: 0, state: 0, limited: 0 };
    const trace = (r: TraceRecord) => {
      if (r.status === 429) seen.limited++;
      else if (r.method === "PUT" && r.status === 200 && /\/send\/m\.room\.encrypted\//.test(r.url)) seen.events++;
      else if (r.method === "PUT" && r.status === 200 && /\/state\/dev\.opsdroid\.database\//.test(r.url)) seen.state++;
    };
    const db = await Memory.open({ homeserver: hs.baseUrl, userId: u.userId, password: u.password, rooms: { main: roomId }, store: new MemoryStore(), trace });
    try {
      const t = performance.now();
      await Promise.all(Array.from({ length: N }, (_, i) => db.put(`r${i}`, { i })));
      await db.flush();
      const s = (performance.now() - t) / 1000;
      rows.push(`| ${encrypted ? "encrypted" : "plaintext"} | ${N} | ${s.toFixed(1)} s | ${seen.events} | ${seen.state} | ${seen.limited} |`);
    } finally {
      await db.close();
    }
  }
  console.log(`${date}; Synapse ${hs.info.version} with its default rate limits, MSC4222; load average before: ${loadBefore}; after: ${load()}.\n`);
  console.log("| | values put at once | until flush | value events sent | state PUTs | 429 answers |");
  console.log("| --- | --- | --- | --- | --- | --- |");
  for (const r of rows) console.log(r);
} finally {
  await hs.stop();
}
