/**
 * Synapse's default rate limits (rc_message: 0.2/s, burst 10; state PUTs count as messages), its own
 * Synapse: 300 puts over 30 keys with `singleStateKey: false`, all issued at once, then flush. Every
 * put must resolve and every key must read back, from the server, as the last value put. The client's
 * rate gate (src/http/rate-gate.ts) holds and paces requests after a 429, so nothing is dropped.
 * Reports landed/total and the elapsed time against the least the limit allows: the burst, then
 * (N - burst) / rate, N being the state PUTs actually sent (coalescing merges puts to one key).
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { isDeepStrictEqual } from "node:util";
import { Memory } from "../../src/index.js";
import { memoryTraceSink } from "../../src/http/trace.js";
import { getAllState } from "../../src/http/endpoints/state/get-all-state.js";
import { EVENT_TYPE } from "../../src/db/format.js";
import { Homeserver } from "../../src/homeserver/synapse.js";
import { testDatabase } from "../helpers/homeserver.js";
import { sharedRoom } from "../helpers/rooms.js";

const KEYS = 30;
const ROUNDS = 10;
const RATE_HZ = 0.2;
const BURST = 10;

let hs: Homeserver;

before(async () => {
  hs = await Homeserver.start({ rateLimits: "default", database: testDatabase(), onProgress: (l) => process.stderr.write(`# ${l}\n`) });
});
after(async () => {
  await hs?.stop();
});

test("300 puts over 30 keys under default limits: every put resolves and every key reads back as its last value", { timeout: 600_000 }, async (t) => {
  // A separate owner makes the room, so the writer starts with a full burst as a freshly started bot would.
  const ownerUser = await hs.registerUser("rl-owner");
  const writerUser = await hs.registerUser("rl-writer");
  const owner = { ...ownerUser, client: hs.client(ownerUser.accessToken) };
  const writer = { ...writerUser, client: hs.client(writerUser.accessToken) };
  const roomId = await sharedRoom(owner, [writer]);
  const trace = memoryTraceSink();
  const db = await Memory.open({ homeserver: hs.info.baseUrl, accessToken: writer.accessToken, rooms: { main: roomId }, singleStateKey: false, syncTimeoutMs: 5000, trace });
  const expected = new Map<string, unknown>();
  try {
    const started = Date.now();
    const puts: Array<Promise<void>> = [];
    for (let r = 0; r < ROUNDS; r++) {
      for (let i = 0; i < KEYS; i++) {
        const value = { r, i };
        expected.set(`k${i}`, value);
        puts.push(db.put(`k${i}`, value));
      }
    }
    const outcomes = await Promise.allSettled(puts);
    const rejected = outcomes.filter((o) => o.status === "rejected");
    await db.flush();
    const elapsedMs = Date.now() - started;
    assert.deepEqual(rejected.map((o) => String((o as PromiseRejectedResult).reason)), [], "every put resolved");

    // Read back from the server itself, not from the writer's picture.
    const state = await writer.client.send(getAllState, { roomId });
    const onServer = new Map(state.filter((e) => e.type === EVENT_TYPE).map((e) => [e.state_key, (e.content as Record<string, unknown>)[e.state_key]]));
    const wrong = [...expected].filter(([k, v]) => !isDeepStrictEqual(onServer.get(k), v)).map(([k, v]) => `${k}: put ${JSON.stringify(v)}, server has ${JSON.stringify(onServer.get(k))}`);
    assert.deepEqual(wrong, [], "every key holds the last value put");

    const statePuts = trace.records.filter((r) => r.method === "PUT" && r.url.includes(`/state/${EVENT_TYPE}/`));
    const accepted = statePuts.filter((r) => r.status === 200).length;
    const limited = statePuts.filter((r) => r.status === 429).length;
    const minimumMs = (Math.max(0, accepted - BURST) / RATE_HZ) * 1000;
    t.diagnostic(
      `landed ${outcomes.length - rejected.length}/${outcomes.length} puts, ${KEYS - wrong.length}/${KEYS} keys read back as put; ` +
        `${accepted} state PUTs accepted, ${limited} answered 429; elapsed ${(elapsedMs / 1000).toFixed(1)} s vs the limit's minimum ${(minimumMs / 1000).toFixed(1)} s ` +
        `(burst ${BURST}, then ${accepted - BURST} at ${RATE_HZ}/s): ratio ${minimumMs > 0 ? (elapsedMs / minimumMs).toFixed(2) : "n/a"}`,
    );
    assert.ok(limited >= 1, "the run met the rate limit (else it measured nothing)");
  } finally {
    await db.close();
  }
});
