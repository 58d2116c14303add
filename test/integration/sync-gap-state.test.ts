/**
 * The classic sync path after a gap. A limited timeline's `state` block is the state just before
 * the timeline's first event, which holds only that event's ancestors: a state event stored earlier
 * on a concurrent branch of the room's DAG is in neither block. A bench run reported a fresh open
 * after 100 per-key puts sent 50 at a time holding 76 to 84 of them; this run did not reproduce it
 * here, so the deterministic check is in test/unit/sync-liveness.test.ts, and this one holds the
 * real path to every value. The sync loop takes the room's whole state from the server after a gap
 * (src/sync/sync-loop.ts `fillGaps`).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Memory } from "../../src/index.js";
import { newUser, testHomeserver } from "../helpers/homeserver.js";
import { sharedRoom } from "../helpers/rooms.js";

const KEYS = 100;

test("a fresh reader on the classic path holds every key written concurrently before it opened", { timeout: 300_000 }, async () => {
  const hs = await testHomeserver();
  // Rate limits lifted for this user only: under rc_message (0.2/s) the puts go one at a time and
  // the room's DAG never branches, which is the case this test needs.
  const writerUser = await newUser("gap-writer", { unlimited: true });
  const roomId = await sharedRoom(writerUser);
  const common = { homeserver: hs.info.baseUrl, accessToken: writerUser.accessToken, rooms: { main: roomId }, singleStateKey: false as const, stateAfter: "never" as const };
  const writer = await Memory.open(common);
  const expected: Record<string, unknown> = {};
  try {
    for (let start = 0; start < KEYS; start += 50) {
      await Promise.all(
        Array.from({ length: 50 }, (_, j) => {
          const key = `k${start + j}`;
          expected[key] = { n: start + j };
          return writer.put(key, expected[key]);
        }),
      );
    }
    await writer.flush();
  } finally {
    await writer.close();
  }
  const reader = await Memory.open({ ...common, syncTimeoutMs: 1000 });
  try {
    const seen = Object.fromEntries(await Promise.all(Object.keys(expected).map(async (k) => [k, await reader.get(k)])));
    assert.deepEqual(seen, expected);
  } finally {
    await reader.close();
  }
});
