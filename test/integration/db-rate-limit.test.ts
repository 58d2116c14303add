/**
 * Under Synapse's default rate limits (rc_message: 0.2/s, burst 10) a burst of writes meets 429
 * M_LIMIT_EXCEEDED; the queue waits the server's delay and goes on: every put lands once, none is
 * dropped or duplicated. Its own Synapse: the shared one has its limits lifted.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { Memory } from "../../src/index.js";
import { memoryTraceSink } from "../../src/http/trace.js";
import { Homeserver } from "../../src/homeserver/synapse.js";
import { sharedRoom } from "../helpers/rooms.js";

let hs: Homeserver;

before(async () => {
  hs = await Homeserver.start({ rateLimits: "default", onProgress: (l) => process.stderr.write(`# ${l}\n`) });
});
after(async () => {
  await hs?.stop();
});

test("a burst over the rate limit is waited out: every put lands exactly once", { timeout: 180_000 }, async (t) => {
  const user = await hs.registerUser("ratelimited");
  const owner = { ...user, client: hs.client(user.accessToken) };
  const roomId = await sharedRoom(owner);
  const trace = memoryTraceSink();
  const db = await Memory.open({ homeserver: hs.info.baseUrl, accessToken: user.accessToken, rooms: { main: roomId }, singleStateKey: false, syncTimeoutMs: 5000, trace });
  try {
    const keys = Array.from({ length: 12 }, (_, i) => `k${i}`);
    await Promise.all(keys.map((k, i) => db.put(k, i)));
    const statePuts = trace.records.filter((r) => r.method === "PUT" && r.url.includes("/state/dev.opsdroid.database/"));
    const limited = statePuts.filter((r) => r.status === 429);
    const accepted = statePuts.filter((r) => r.status === 200);
    t.diagnostic(`state PUTs: ${accepted.length} accepted, ${limited.length} answered 429`);
    assert.ok(limited.length >= 1, "the burst met the rate limit");
    assert.equal(accepted.length, keys.length, "each key written exactly once");
    const reader = await Memory.open({ homeserver: hs.info.baseUrl, accessToken: user.accessToken, rooms: { main: roomId }, singleStateKey: false, syncTimeoutMs: 5000 });
    for (const [i, k] of keys.entries()) assert.equal(await reader.get(k), i);
    await reader.close();
  } finally {
    await db.close();
  }
});
