/**
 * Issue 10: under Synapse's default rc_message (0.2/s, burst 10), N puts to distinct keys
 * (singleStateKey false: one state PUT each) all land, each exactly once (one state event per key
 * in the room's timeline), with the right values. Reports the time taken against the least the
 * limit allows: the burst at once, then one every 5 s. Kept small; the rate gate's own tests are
 * db-rate-limit.test.ts and http-ratelimit.test.ts.
 *
 * mxdb-test: postgres-too (the durability promise on a Synapse with PostgreSQL too, as production runs it)
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Memory } from "../../src/index.js";
import { compareAcked, durabilitySuite, serverValues, stateHistory } from "../helpers/durability.js";
import type { TestUser } from "../helpers/homeserver.js";
import { sharedRoom } from "../helpers/rooms.js";

const N = 15;
const BURST = 10;
const PER_SECOND = 0.2;

const suite = durabilitySuite();

/** How many state events of our type each state key got from `sender`. */
async function writesPerKey(reader: TestUser, roomId: string, sender: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const e of await stateHistory(reader, roomId)) if (e.sender === sender) counts[e.stateKey] = (counts[e.stateKey] ?? 0) + 1;
  return counts;
}

test(`${N} puts to distinct keys under Synapse's default rc_message all land exactly once`, { timeout: 180_000 }, async (t) => {
  const [owner, alice] = await suite.users("owner", "alice");
  const roomId = await sharedRoom(owner, [alice]);
  const limited: string[] = [];
  const db = await Memory.open({ homeserver: suite.hs.baseUrl, accessToken: alice.accessToken, rooms: { main: roomId }, singleStateKey: false, syncTimeoutMs: 5000, onError: (e) => limited.push(String(e)) });
  const acked: Record<string, unknown> = {};
  const rejected: string[] = [];
  const started = Date.now();
  await Promise.all(
    Array.from({ length: N }, (_, i) => {
      const value = { by: "alice", i };
      return db.put(`key-${i}`, value).then(() => void (acked[`key-${i}`] = value), (e: unknown) => void rejected.push(`key-${i}: ${String(e)}`));
    }),
  );
  const elapsed = Date.now() - started;
  await db.flush();
  await db.close();
  const minimum = (Math.max(0, N - BURST) / PER_SECOND) * 1000;
  const onServer = compareAcked(acked, await serverValues(alice, roomId));
  const writes = await writesPerKey(alice, roomId, alice.userId);
  const once = Object.keys(acked).filter((k) => writes[k] === 1).length;
  t.diagnostic(
    `landed ${onServer.kept}/${N} (rejected ${rejected.length}), written exactly once ${once}/${N}; ` +
      `${(elapsed / 1000).toFixed(1)} s against the limit's minimum ${(minimum / 1000).toFixed(1)} s (ratio ${(elapsed / minimum).toFixed(2)})` +
      (rejected.length ? `; first rejection ${rejected[0]}` : ""),
  );
  assert.deepEqual(rejected, []);
  assert.deepEqual(onServer.lost, []);
  assert.deepEqual(writes, Object.fromEntries(Object.keys(acked).map((k) => [k, 1])));
});
