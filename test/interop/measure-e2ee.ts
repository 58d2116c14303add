/**
 * Median put/get times, encrypted against unencrypted, on one Synapse started here (loopback, rate
 * limits lifted). A measurement script, not a test:
 *   node --import tsx test/interop/measure-e2ee.ts [--n 100]
 *
 * put: sequential, each awaited (state write accepted; for encrypted rooms the Megolm event is sent
 * first). get: a present key; "cached" is the memory's normal read, "first" is the first read of each
 * value by a second device of another user (GET /event + Megolm decryption).
 */
import { parseArgs } from "node:util";
import { Homeserver } from "../../src/homeserver/synapse.js";
import { createRoom } from "../../src/http/endpoints/rooms/create-room.js";
import { join } from "../../src/http/endpoints/rooms/join.js";
import { Memory } from "../../src/index.js";

const { values } = parseArgs({ options: { n: { type: "string", default: "100" } } });
const N = Number(values.n);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const ms = (t: bigint) => Number(process.hrtime.bigint() - t) / 1e6;

const hs = await Homeserver.start({ rateLimits: "lifted", onProgress: (l) => process.stderr.write(`# ${l}\n`) });
try {
  const [a, b] = await Promise.all([hs.registerUser("measure-a"), hs.registerUser("measure-b")]);
  const A = hs.client(a.accessToken);
  const B = hs.client(b.accessToken);
  const results: Record<string, Record<string, number>> = {};
  for (const encrypted of [false, true]) {
    const { room_id: roomId } = await A.send(createRoom, {
      preset: "private_chat",
      invite: [b.userId],
      ...(encrypted ? { initial_state: [{ type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } }] } : {}),
    });
    await B.send(join, { roomIdOrAlias: roomId });
    const opts = { homeserver: hs.info.baseUrl, rooms: { main: roomId }, syncTimeoutMs: 5000 };
    // Password logins: a new device (and Olm account) per round; a memory-only store cannot reuse one.
    const reader = await Memory.open({ ...opts, userId: b.userId, password: b.password });
    const writer = await Memory.open({ ...opts, userId: a.userId, password: a.password });
    const put: number[] = [];
    for (let i = 0; i < N; i++) {
      const t = process.hrtime.bigint();
      await writer.put(`k${i}`, { i, text: "a value of modest size" });
      put.push(ms(t));
    }
    await writer.flush();
    const cached: number[] = [];
    for (let i = 0; i < N; i++) {
      const t = process.hrtime.bigint();
      await writer.get(`k${i}`);
      cached.push(ms(t));
    }
    // The reader sees the last write, then reads each value for the first time.
    for (let tries = 0; (await reader.get(`k${N - 1}`).catch(() => undefined)) === undefined && tries < 200; tries++) await new Promise((r) => setTimeout(r, 50));
    const first: number[] = [];
    for (let i = 0; i < N - 1; i++) {
      const t = process.hrtime.bigint();
      await reader.get(`k${i}`);
      first.push(ms(t));
    }
    results[encrypted ? "encrypted" : "unencrypted"] = { putMs: median(put), getCachedMs: median(cached), getFirstMs: median(first) };
    await writer.close();
    await reader.close();
  }
  console.log(JSON.stringify({ n: N, synapse: hs.info.version, medians: results }, null, 2));
} finally {
  await hs.stop();
}
