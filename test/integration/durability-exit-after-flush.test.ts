/**
 * Issue 10, "on the real, stock Synapse": once `put` and `flush()` have resolved the op survives,
 * even when the writer exits the moment `flush(); close()` returns and whatever other writers do.
 * Three processes per run (two users, and one account twice: same access token, one with a store
 * of its own and one without), in one shared state key and in per-key mode, and the two users
 * alone (200 keys each, the case issue 10 first reported). Each run uses fresh users and a fresh
 * room; every acknowledged value is compared with the server's state and with a fresh reader's
 * picture.
 * The CLI's concurrent `mxdb put` commands are in durability-cli-shells.test.ts.
 * Synapse runs with its default configuration and rate limits (rc_message 0.2/s, burst 10).
 */
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { join } from "node:path";
import { compareAcked, describeLost, durabilitySuite, lostByWriter, readerValues, serverValues, stateTraceSummary } from "../helpers/durability.js";
import { sharedRoom } from "../helpers/rooms.js";
import { spawnExitWriter } from "../helpers/spawn-writers.js";

const RUNS = 3;
/** Keys per process into one state key: coalesced into a few PUTs. */
const SINGLE_PER_PROCESS = 150;
/** Keys per process in per-key mode: one PUT each, so sized for rc_message (the account running twice has 12). */
const PER_KEY_PER_PROCESS = 6;

const suite = durabilitySuite({ scratch: "mxdb-durability-" });

interface RunResult {
  kept: number;
  total: number;
  lost: number;
  readerLost: number;
  rejected: number;
  badExits: number;
}

/**
 * One run: alice twice (a1 with a store, a2 without) and bob, all at once, each exiting after
 * flush/close. `sameAccountTwice: false` leaves out a2: the two-users case on its own.
 */
async function processRun(run: number, singleStateKey: boolean, perProcess: number, t: TestContext, sameAccountTwice = true): Promise<RunResult> {
  const [owner, alice, bob, reader] = await suite.users("owner", "alice", "bob", "reader");
  const roomId = await sharedRoom(owner, [alice, bob, reader]);
  const base = { homeserver: suite.hs.baseUrl, roomId, run, count: perProcess, singleStateKey };
  // Wire traces of every writer: kept in MXDB_DURABILITY_TRACES when set, to replay a lost write.
  const traces = process.env.MXDB_DURABILITY_TRACES ?? suite.scratch;
  const trace = (by: string) => join(traces, `${singleStateKey ? "single" : "per-key"}-${sameAccountTwice ? 3 : 2}-run${run}-${by}.jsonl`);
  const names = sameAccountTwice ? ["a1", "a2", "b"] : ["a1", "b"];
  const writers = [
    spawnExitWriter({ ...base, accessToken: alice.accessToken, by: "a1", store: mkdtempSync(join(suite.scratch, "a1-")), trace: trace("a1") }),
    ...(sameAccountTwice ? [spawnExitWriter({ ...base, accessToken: alice.accessToken, by: "a2", trace: trace("a2") })] : []),
    spawnExitWriter({ ...base, accessToken: bob.accessToken, by: "b", trace: trace("b") }),
  ];
  const total = writers.length * perProcess;
  await Promise.all(writers.map((w) => w.ready));
  const started = Date.now();
  for (const w of writers) w.go();
  const reports = await Promise.all(writers.map((w) => w.done));
  const elapsed = Date.now() - started;
  const acked = Object.assign({}, ...reports.map((r) => r.acked)) as Record<string, unknown>;
  const server = await serverValues(reader, roomId);
  const onServer = compareAcked(acked, server);
  const seen = compareAcked(acked, await readerValues(suite.hs, reader, roomId, singleStateKey));
  const rejected = reports.reduce((n, r) => n + r.rejected.length, 0);
  const badExits = reports.filter((r) => r.exitCode !== 0).length;
  t.diagnostic(
    `run ${run}: kept ${onServer.kept}/${total} on the server (acknowledged ${onServer.total}, acknowledged-but-lost ${onServer.lost.length}: ${lostByWriter(onServer, names)}), ` +
      `fresh reader ${seen.kept}/${seen.total}, rejected ${rejected}, writers done in ${(elapsed / 1000).toFixed(1)} s (flush+close ${reports.map((r) => r.flushMs).join("/")} ms)` +
      (onServer.lost.length ? `; e.g. ${describeLost(onServer, acked, server, 3)}` : ""),
  );
  if (onServer.lost.length > 0) t.diagnostic(`state requests of the writers:\n${stateTraceSummary(Object.fromEntries(names.map((n) => [n, trace(n)])))}`);
  return { kept: onServer.kept, total, lost: onServer.lost.length, readerLost: seen.lost.length, rejected, badExits };
}

function summarise(t: TestContext, results: RunResult[]): void {
  const lost = results.reduce((n, r) => n + r.lost, 0);
  t.diagnostic(`kept/total per run: ${results.map((r) => `${r.kept}/${r.total}`).join(", ")}; acknowledged-but-lost over all runs: ${lost}`);
  assert.deepEqual(
    results.map((r) => ({ kept: r.kept, lost: r.lost, readerLost: r.readerLost, rejected: r.rejected, badExits: r.badExits })),
    results.map((r) => ({ kept: r.total, lost: 0, readerLost: 0, rejected: 0, badExits: 0 })),
  );
}

test("three processes (two users, one account twice) into ONE state key, each exiting right after flush/close: nothing acknowledged is lost", { timeout: 240_000 }, async (t) => {
  const results: RunResult[] = [];
  for (let run = 1; run <= RUNS; run++) results.push(await processRun(run, true, SINGLE_PER_PROCESS, t));
  summarise(t, results);
});

test("the same three processes in per-key mode (one state event per key), exiting right after flush/close", { timeout: 300_000 }, async (t) => {
  const results: RunResult[] = [];
  for (let run = 1; run <= RUNS; run++) results.push(await processRun(run, false, PER_KEY_PER_PROCESS, t));
  summarise(t, results);
});

test("two users only (one process each) into ONE state key, exiting right after flush/close", { timeout: 240_000 }, async (t) => {
  const results: RunResult[] = [];
  for (let run = 1; run <= RUNS; run++) results.push(await processRun(run, true, 200, t, false));
  summarise(t, results);
});
