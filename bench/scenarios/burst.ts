/**
 * Scenario 2: burst coalescing. 1,000 concurrent puts over 100 keys with singleStateKey true: how
 * many state PUTs go over the wire, how long until all are accepted (and until sync confirms them),
 * and whether every key reads back with its last value. opsdroid does the same burst (a GET and a
 * PUT per put, read-modify-write of the one event): we count its requests and the values that
 * survived.
 */
import { Memory, memoryTraceSink } from "../../src/index.js";
import { getStateContent } from "../../src/http/endpoints/state/get-state.js";
import { EVENT_TYPE } from "../../src/db/format.js";
import type { BenchEnv } from "../lib/env.js";
import { msSince, round, roundSummary, summarize, type Summary } from "../lib/stats.js";

export interface BurstRun {
  statePuts: number;
  acceptedMs: number;
  flushedMs: number;
  /** Keys whose last value was read back, from a fresh reader (raw GET of the event). */
  survived: number;
}

export interface BurstResult {
  puts: number;
  keys: number;
  mxdb: { runs: BurstRun[]; statePuts: Summary; acceptedMs: Summary; flushedMs: Summary; allSurvived: boolean };
  opsdroid: { puts: number; concurrency: number; statePuts: number; gets: number; wallMs: number; failed: number; survived: number; keys: number };
  opsdroidVersions: Record<string, string>;
}

const PUTS = 1_000;
const KEYS = 100;

/** Put i writes key i % KEYS; the last writer of each key is the one with the highest i. */
function burstItems(tag: string): Array<[string, { i: number; tag: string }]> {
  return Array.from({ length: PUTS }, (_, i) => [`key-${i % KEYS}`, { i, tag }]);
}

function survivors(content: Record<string, unknown>, tag: string): number {
  let ok = 0;
  for (let k = 0; k < KEYS; k++) {
    const v = content[`key-${k}`] as { i?: number; tag?: string } | undefined;
    if (v?.tag === tag && v.i === PUTS - KEYS + k) ok++;
  }
  return ok;
}

export async function benchBurst(env: BenchEnv): Promise<BurstResult> {
  const repeats = env.size === "full" ? 5 : 2;
  const runs: BurstRun[] = [];
  for (let r = 0; r < repeats; r++) {
    const user = await env.user("burst");
    const roomId = await env.room(user);
    const sink = memoryTraceSink();
    const db = await Memory.open({ homeserver: env.hs.baseUrl, accessToken: user.accessToken, rooms: { main: roomId }, singleStateKey: true, trace: sink });
    const tag = `run${r}`;
    let run: BurstRun;
    try {
      const before = sink.records.length;
      const t = process.hrtime.bigint();
      await Promise.all(burstItems(tag).map(([k, v]) => db.put(k, v)));
      const acceptedMs = msSince(t);
      await db.flush();
      const flushedMs = msSince(t);
      const statePuts = sink.records.slice(before).filter((x) => x.method === "PUT" && x.url.includes("/state/")).length;
      const content = await user.client.send(getStateContent, { roomId, eventType: EVENT_TYPE, stateKey: "" });
      run = { statePuts, acceptedMs: round(acceptedMs, 1), flushedMs: round(flushedMs, 1), survived: survivors(content, tag) };
    } finally {
      await db.close();
    }
    env.log(`burst: mxdb run ${r + 1}/${repeats}: ${run.statePuts} state PUTs, accepted in ${run.acceptedMs} ms, confirmed by sync in ${run.flushedMs} ms, ${run.survived}/${KEYS} keys read back`);
    runs.push(run);
  }

  // opsdroid: the same 1,000 puts, all at once (concurrency 1,000), once: it is slow and loses updates.
  const user = await env.user("burst-ops");
  const roomId = await env.room(user);
  const ops = await env.opsdroid(user, roomId, true);
  const opsdroidVersions = ops.info.versions;
  let opsdroid: BurstResult["opsdroid"];
  try {
    env.log(`burst: opsdroid, ${PUTS} puts at concurrency ${PUTS}`);
    const answer = await ops.request<{ wall_us: number; results: Array<{ ok: boolean }> }>({ op: "bench_put", items: burstItems("ops"), concurrency: PUTS, trace: true });
    const requests = answer.requests ?? [];
    const content = await user.client.send(getStateContent, { roomId, eventType: EVENT_TYPE, stateKey: "" });
    opsdroid = {
      puts: PUTS,
      concurrency: PUTS,
      statePuts: requests.filter(([m, p]) => m === "PUT" && p.includes("/state/")).length,
      gets: requests.filter(([m, p]) => m === "GET" && p.includes("/state/")).length,
      wallMs: round(answer.result.wall_us / 1e3, 1),
      failed: answer.result.results.filter((x) => !x.ok).length,
      survived: survivors(content, "ops"),
      keys: KEYS,
    };
  } finally {
    await ops.close();
  }
  env.log(`burst: opsdroid: ${opsdroid.statePuts} state PUTs + ${opsdroid.gets} GETs in ${opsdroid.wallMs} ms, ${opsdroid.survived}/${KEYS} keys survived, ${opsdroid.failed} failed`);
  return {
    puts: PUTS,
    keys: KEYS,
    mxdb: {
      runs,
      statePuts: summarize(runs.map((r) => r.statePuts)),
      acceptedMs: roundSummary(summarize(runs.map((r) => r.acceptedMs)), 1),
      flushedMs: roundSummary(summarize(runs.map((r) => r.flushedMs)), 1),
      allSurvived: runs.every((r) => r.survived === KEYS),
    },
    opsdroid,
    opsdroidVersions,
  };
}
