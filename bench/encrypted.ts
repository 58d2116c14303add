/**
 * Encrypted beside plaintext put and get (issue 12), on one Synapse started here with rate limits lifted
 * (so the homeserver's own cost shows, not its limiter). Samples alternate between the encrypted and
 * the plaintext memory, so a change of machine load hits both alike; the load average is printed
 * before and after, since the 2 cores are shared.
 *
 *   sequential put   each put awaited, 10 keys rewritten in turn (one shared state key)
 *   concurrent puts  rounds of 50 puts at once (Promise.all), distinct keys: values per second,
 *                    with one shared state key and with one state key per key
 *   cached get       a value this process wrote or read before (no request)
 *   first get        after a reopen (same device, store kept): plaintext comes from the synced state,
 *                    an encrypted value costs GET /event and a Megolm decryption (shared by the values
 *                    that one event carries)
 *
 *   npm run bench:encrypted [-- --puts 200 --gets 10000 --burst 500 --burst-per-key 200]
 */
import { loadavg, cpus } from "node:os";
import { parseArgs } from "node:util";
import { Memory, MemoryStore } from "../src/index.js";
import { createRoom } from "../src/http/endpoints/rooms/create-room.js";
import { Homeserver } from "../src/homeserver/synapse.js";
import { quantile } from "./lib/stats.js";

const { values } = parseArgs({
  options: {
    puts: { type: "string", default: "200" },
    gets: { type: "string", default: "10000" },
    burst: { type: "string", default: "500" },
    "burst-per-key": { type: "string", default: "200" },
  },
});
const PUTS = Number(values.puts);
const GETS = Number(values.gets);
const BURST = Number(values.burst);
const BURST_PER_KEY = Number(values["burst-per-key"]);

const load = () => loadavg().map((x) => x.toFixed(2)).join(" ");
const stats = (xs: number[], digits = 1) => {
  const s = [...xs].sort((a, b) => a - b);
  return `${quantile(s, 0.5).toFixed(digits)} / ${quantile(s, 0.9).toFixed(digits)}`;
};
const now = () => performance.now();

const loadBefore = load();
const date = new Date().toISOString();
const hs = await Homeserver.start({ rateLimits: "lifted", msc4222: true });
const rows: string[] = [];
try {
  const u = await hs.registerUser(`enc-bench-${Date.now()}`);
  const admin = hs.client(u.accessToken);
  const room = async (encrypted: boolean) =>
    (
      await admin.send(createRoom, {
        preset: "private_chat",
        initial_state: encrypted ? [{ type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } }] : [],
      })
    ).room_id;
  const base = { homeserver: hs.baseUrl, userId: u.userId, password: u.password };
  const open = (roomId: string, store: MemoryStore, singleStateKey = true) => Memory.open({ ...base, rooms: { main: roomId }, store, singleStateKey });
  const kinds = ["plaintext", "encrypted"] as const;
  const rooms = { plaintext: await room(false), encrypted: await room(true) };
  const stores = { plaintext: new MemoryStore(), encrypted: new MemoryStore() };
  let dbs = { plaintext: await open(rooms.plaintext, stores.plaintext), encrypted: await open(rooms.encrypted, stores.encrypted) };

  // Sequential puts, alternating.
  const putMs = { plaintext: [] as number[], encrypted: [] as number[] };
  for (let i = 0; i < PUTS; i++) {
    for (const kind of i % 2 === 0 ? kinds : [...kinds].reverse()) {
      const t = now();
      await dbs[kind].put(`k${i % 10}`, { i, text: "a value of modest size" });
      putMs[kind].push(now() - t);
    }
  }
  // The first-get values: 100 distinct keys, written in rounds of 50.
  const expected = new Map<string, unknown>();
  for (let i = 0; i < 100; i += 50) {
    for (const kind of kinds) await Promise.all(Array.from({ length: 50 }, (_, j) => dbs[kind].put(`g${i + j}`, { g: i + j })));
  }
  for (let i = 0; i < 100; i++) expected.set(`g${i}`, { g: i });
  for (const kind of kinds) await dbs[kind].flush();

  // Cached gets, alternating.
  const getUs = { plaintext: [] as number[], encrypted: [] as number[] };
  for (let i = 0; i < GETS; i++) {
    for (const kind of kinds) {
      const t = now();
      await dbs[kind].get(`k${i % 10}`);
      getUs[kind].push((now() - t) * 1000);
    }
  }

  // First gets after a reopen (same device and store: the crypto store keeps the room keys).
  for (const kind of kinds) await dbs[kind].close();
  dbs = { plaintext: await open(rooms.plaintext, stores.plaintext), encrypted: await open(rooms.encrypted, stores.encrypted) };
  const firstMs = { plaintext: [] as number[], encrypted: [] as number[] };
  for (const [key, want] of expected) {
    for (const kind of kinds) {
      const t = now();
      const got = await dbs[kind].get(key);
      firstMs[kind].push(now() - t);
      if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`${kind} ${key}: read ${JSON.stringify(got)}, wrote ${JSON.stringify(want)}`);
    }
  }
  for (const kind of kinds) await dbs[kind].close();

  // Concurrent puts: rounds of 50 distinct keys, until flush (both modes).
  const burst = async (kind: (typeof kinds)[number], n: number, singleStateKey: boolean) => {
    const db = await open(await room(kind === "encrypted"), new MemoryStore(), singleStateKey);
    try {
      const t = now();
      for (let i = 0; i < n; i += 50) await Promise.all(Array.from({ length: Math.min(50, n - i) }, (_, j) => db.put(`b${i + j}`, { b: i + j, text: `value ${i + j}` })));
      await db.flush();
      return n / ((now() - t) / 1000);
    } finally {
      await db.close();
    }
  };
  const rate = { shared: { plaintext: 0, encrypted: 0 }, perKey: { plaintext: 0, encrypted: 0 } };
  for (const kind of kinds) rate.shared[kind] = await burst(kind, BURST, true);
  for (const kind of kinds) rate.perKey[kind] = await burst(kind, BURST_PER_KEY, false);

  for (const kind of kinds) {
    rows.push(
      `| ${kind} | ${stats(putMs[kind])} ms | ${stats(getUs[kind], 2)} µs | ${stats(firstMs[kind], 2)} ms, ${firstMs[kind].reduce((a, b) => a + b, 0).toFixed(0)} ms in all | ${rate.shared[kind].toFixed(1)} | ${rate.perKey[kind].toFixed(1)} |`,
    );
  }
  await admin.close();
  console.log(`${date}; Synapse ${hs.info.version} with MSC4222, rate limits lifted; ${cpus().length} × ${cpus()[0]?.model ?? "?"}, shared.`);
  console.log(`Load average (1, 5, 15 min) before: ${loadBefore}; after: ${load()}. ${PUTS} sequential puts and ${GETS} cached gets per kind, 100 first gets, concurrent puts in rounds of 50 (${BURST} with one shared state key, ${BURST_PER_KEY} with one state key per key).\n`);
  console.log("| | sequential put p50 / p90 | cached get p50 / p90 | 100 first gets after reopen: p50 / p90, sum | concurrent puts/s, shared state key | concurrent puts/s, state key per key |");
  console.log("| --- | --- | --- | --- | --- | --- |");
  for (const r of rows) console.log(r);
} finally {
  await hs.stop();
}
