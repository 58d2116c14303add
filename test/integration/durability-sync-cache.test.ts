/**
 * Issue 10: Synapse's /sync cache (stock: replies kept 2 minutes, keyed on user, device, since,
 * filter and timeout). Writer A (token T, no store) opens — its initial /sync reply is cached —
 * then writes k1..k9 after it, and closes. Writer B with the SAME token and no store opens within
 * the two minutes: the same request key, so a stock Synapse may answer from the cache, which lacks
 * A's values. B must still read A's values, and B's one put must not write the stale dictionary
 * over them, not even for a moment (issue 10: never write on a picture not known to be current:
 * each of B's state events must carry all of A's values). A fresh reader then checks A's values.
 * A and B are two Memory instances of this process: to Synapse that is the same as two processes
 * (same token, same device).
 *
 * mxdb-test: postgres-too (the durability promise on a Synapse with PostgreSQL too, as production runs it)
 * mxdb-test: dendrite-too (and on a stock Dendrite: docs/HOMESERVERS.md "Dendrite")
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Memory } from "../../src/index.js";
import { compareAcked, describeLost, durabilitySuite, readerValues, serverValues, stateHistory } from "../helpers/durability.js";
import type { TestUser } from "../helpers/homeserver.js";
import { sharedRoom } from "../helpers/rooms.js";

const RUNS = 4;
const KEYS = Array.from({ length: 9 }, (_, i) => `k${i + 1}`);
/** Synapse's default sync_response_cache_duration: B must open well inside it for the test to mean anything. */
const CACHE_MS = 120_000;

const suite = durabilitySuite();

const open = (u: TestUser, roomId: string) => Memory.open({ homeserver: suite.hs.baseUrl, accessToken: u.accessToken, rooms: { main: roomId }, singleStateKey: true, syncTimeoutMs: 5000 });

test("a second process with the same token and no store, inside the /sync cache window, neither reads nor writes a stale picture", { timeout: 300_000 }, async (t) => {
  const outcomes: Array<{ staleReads: number; staleWrites: number; lost: number; readerLost: number; withinCache: boolean }> = [];
  for (let run = 1; run <= RUNS; run++) {
    const [owner, alice, reader] = await suite.users("owner", "alice", "reader");
    const roomId = await sharedRoom(owner, [alice, reader]);
    // Older values already in the room, so a stale picture is a full dictionary, not an empty one.
    const seed = await open(owner, roomId);
    for (const k of KEYS) await seed.put(k, { by: "seed", k, run });
    await seed.flush();
    await seed.close();

    // A: its initial sync first (the reply Synapse caches), then the writes it must not lose.
    const a = await open(alice, roomId);
    const aOpened = Date.now();
    const acked: Record<string, unknown> = {};
    await Promise.all(KEYS.map((k, i) => a.put(k, { by: "A", i, run }).then(() => void (acked[k] = { by: "A", i, run }))));
    await a.flush();
    await a.close();

    // B: same token, no store, same request key as A's initial sync.
    const b = await open(alice, roomId);
    const sinceA = Date.now() - aOpened;
    const bRead: Record<string, unknown> = {};
    for (const k of KEYS) bRead[k] = await b.get(k);
    const stale = compareAcked(acked, bRead);
    await b.put("k10", { by: "B", run });
    await b.flush();
    await b.close();

    const server = await serverValues(reader, roomId);
    const onServer = compareAcked(acked, server);
    const seen = compareAcked(acked, await readerValues(suite.hs, reader, roomId, true));
    // B's own writes are the events holding k10: how many of A's values did each carry?
    const bWrites = (await stateHistory(reader, roomId)).filter((e) => e.stateKey === "" && "k10" in e.content).map((e) => compareAcked(acked, e.content).kept);
    const withinCache = sinceA < CACHE_MS;
    t.diagnostic(
      `run ${run}: B opened ${(sinceA / 1000).toFixed(1)} s after A's initial sync; B read ${stale.kept}/9 of A's values; ` +
        `after B's put: ${onServer.kept}/9 of A's values on the server (lost ${onServer.lost.length}), fresh reader ${seen.kept}/9, B's own key ${JSON.stringify(server.k10)}; B's state events held ${bWrites.map((n) => `${n}/9`).join(", ")} of A's values` +
        (stale.lost.length ? `; B read k1 = ${JSON.stringify(bRead.k1)} (A had written ${JSON.stringify(acked.k1)})` : "") +
        (onServer.lost.length ? `; e.g. ${describeLost(onServer, acked, server, 2)}` : ""),
    );
    assert.deepEqual(server.k10, { by: "B", run }, "B's put landed");
    outcomes.push({ staleReads: stale.lost.length, staleWrites: bWrites.filter((n) => n < KEYS.length).length, lost: onServer.lost.length, readerLost: seen.lost.length, withinCache });
  }
  t.diagnostic(`A's values lost per run: ${outcomes.map((o) => `${o.lost}/9`).join(", ")}; stale reads by B per run: ${outcomes.map((o) => `${o.staleReads}/9`).join(", ")}; B's state events written on a stale picture per run: ${outcomes.map((o) => o.staleWrites).join(", ")}`);
  assert.deepEqual(outcomes, outcomes.map(() => ({ staleReads: 0, staleWrites: 0, lost: 0, readerLost: 0, withinCache: true })));
});
