/**
 * Scenario 3: Synapse's default rate limits (rc_message 0.2/s, burst 10; state PUTs count as
 * messages). 100 puts with singleStateKey true, all issued at once, then flush: how long until
 * every one has landed. mxdb coalesces them into one or two events; opsdroid sends one event per
 * put (after a GET), so it runs into the limiter after the burst and nio waits out each 429; its
 * run is cut off at a fixed deadline and we report how many landed and the rate it reached.
 * Then N puts to distinct keys (`singleStateKey: false`, one state PUT each): the time until all
 * landed against the least the limit allows, the burst then (N - burst) / rate: that ratio is the
 * rate gate's (src/http/rate-gate.ts) score; 1 is the limit itself.
 */
import { isDeepStrictEqual } from "node:util";
import { Memory, memoryTraceSink } from "../../src/index.js";
import { getStateContent } from "../../src/http/endpoints/state/get-state.js";
import { EVENT_TYPE } from "../../src/db/format.js";
import type { BenchEnv } from "../lib/env.js";
import { msSince, round, roundSummary, summarize, type Summary } from "../lib/stats.js";

export interface RateLimitedRun {
  acceptedMs: number;
  landedMs: number;
  statePuts: number;
  rateLimited: number;
  readBack: number;
}

export interface DistinctKeysRun {
  puts: number;
  landedMs: number;
  /** Least time the limit allows: (accepted state PUTs - burst) / rate. */
  minimumMs: number;
  ratio: number;
  statePuts: number;
  rateLimited: number;
  readBack: number;
}

export interface RateLimitedResult {
  puts: number;
  distinct?: DistinctKeysRun;
  mxdb: { runs: RateLimitedRun[]; landedMs: Summary; allReadBack: boolean };
  opsdroid: { concurrency: number; deadlineS: number; landed: number; lastLandedMs: number | undefined; ratePerSecond: number; requests: number; statePutRequests: number; readBack: number; estimatedAllMs: number };
}

const PUTS = 100;
const RATE_HZ = 0.2;
const BURST = 10;

function items(tag: string): Array<[string, { tag: string; i: number }]> {
  return Array.from({ length: PUTS }, (_, i) => [`k${i}`, { tag, i }]);
}

function readBack(content: Record<string, unknown>, tag: string): number {
  return items(tag).filter(([k, v]) => isDeepStrictEqual(content[k], v)).length;
}

export async function benchRateLimited(env: BenchEnv): Promise<RateLimitedResult> {
  const repeats = env.size === "full" ? 3 : 1;
  const deadlineS = env.size === "full" ? 60 : 15;
  const owner = await env.user("rl-owner");
  const runs: RateLimitedRun[] = [];
  for (let r = 0; r < repeats; r++) {
    // A fresh user each run: the limiter is per user, so each run starts with a full burst, as a bot that just started.
    const user = await env.user("rl-mxdb");
    const roomId = await env.room(owner, [user]);
    const sink = memoryTraceSink();
    const db = await Memory.open({ homeserver: env.hs.baseUrl, accessToken: user.accessToken, rooms: { main: roomId }, singleStateKey: true, trace: sink });
    try {
      const tag = `run${r}`;
      const t = process.hrtime.bigint();
      await Promise.all(items(tag).map(([k, v]) => db.put(k, v)));
      const acceptedMs = msSince(t);
      await db.flush();
      const landedMs = msSince(t);
      const puts = sink.records.filter((x) => x.method === "PUT" && x.url.includes("/state/"));
      const content = await user.client.send(getStateContent, { roomId, eventType: EVENT_TYPE, stateKey: "" });
      const run = { acceptedMs: round(acceptedMs, 1), landedMs: round(landedMs, 1), statePuts: puts.filter((x) => x.status === 200).length, rateLimited: puts.filter((x) => x.status === 429).length, readBack: readBack(content, tag) };
      env.log(`ratelimit: mxdb run ${r + 1}/${repeats}: 100 puts landed in ${run.landedMs} ms (accepted ${run.acceptedMs} ms), ${run.statePuts} state PUTs, ${run.rateLimited} answered 429, ${run.readBack}/100 read back`);
      runs.push(run);
    } finally {
      await db.close();
    }
  }

  const distinct = await distinctKeys(env, owner, env.size === "full" ? 40 : 20);

  // opsdroid with singleStateKey true must put one at a time: concurrent puts would overwrite each other.
  const user = await env.user("rl-ops");
  const roomId = await env.room(owner, [user]);
  const ops = await env.opsdroid(user, roomId, true);
  let opsdroid: RateLimitedResult["opsdroid"];
  try {
    env.log(`ratelimit: opsdroid, 100 sequential puts, cut off after ${deadlineS} s`);
    const answer = await ops.request<{ wall_us: number; results: Array<{ ok: boolean; done_us?: number }> }>({ op: "bench_put", items: items("ops"), concurrency: 1, deadline_s: deadlineS, trace: true });
    const landed = answer.result.results.filter((x) => x.ok);
    const lastLandedMs = landed.length > 0 ? Math.max(...landed.map((x) => x.done_us!)) / 1e3 : undefined;
    const content = await user.client.send(getStateContent, { roomId, eventType: EVENT_TYPE, stateKey: "" }).catch(() => ({}));
    const requests = answer.requests ?? [];
    const elapsedS = answer.result.wall_us / 1e6;
    const rate = landed.length / elapsedS;
    // After the burst of 10, one event per 5 s: the rest would take (100 - landed) / 0.2 s more.
    const estimatedAllMs = landed.length >= PUTS ? lastLandedMs! : elapsedS * 1e3 + ((PUTS - landed.length) / 0.2) * 1e3;
    opsdroid = {
      concurrency: 1,
      deadlineS,
      landed: landed.length,
      lastLandedMs: lastLandedMs === undefined ? undefined : round(lastLandedMs, 1),
      ratePerSecond: round(rate, 2),
      requests: requests.length,
      statePutRequests: requests.filter(([m, p]) => m === "PUT" && p.includes("/state/")).length,
      readBack: readBack(content as Record<string, unknown>, "ops"),
      estimatedAllMs: round(estimatedAllMs, 0),
    };
  } finally {
    await ops.close();
  }
  env.log(`ratelimit: opsdroid: ${opsdroid.landed}/100 landed in ${deadlineS} s (${opsdroid.ratePerSecond}/s, ${opsdroid.statePutRequests} state PUT requests incl. 429 retries); all 100 would take ~${Math.round(opsdroid.estimatedAllMs / 1000)} s`);
  return { puts: PUTS, distinct, mxdb: { runs, landedMs: roundSummary(summarize(runs.map((r) => r.landedMs)), 1), allReadBack: runs.every((r) => r.readBack === PUTS) }, opsdroid };
}

/** N puts to N keys at once with one state event per key, by a fresh user (a full burst), then flush. */
async function distinctKeys(env: BenchEnv, owner: Awaited<ReturnType<BenchEnv["user"]>>, n: number): Promise<DistinctKeysRun> {
  const user = await env.user("rl-distinct");
  const roomId = await env.room(owner, [user]);
  const sink = memoryTraceSink();
  const db = await Memory.open({ homeserver: env.hs.baseUrl, accessToken: user.accessToken, rooms: { main: roomId }, singleStateKey: false, trace: sink });
  try {
    const values = Array.from({ length: n }, (_, i) => [`d${i}`, { i }] as const);
    const t = process.hrtime.bigint();
    await Promise.all(values.map(([k, v]) => db.put(k, v)));
    await db.flush();
    const landedMs = msSince(t);
    const puts = sink.records.filter((x) => x.method === "PUT" && x.url.includes("/state/"));
    const statePuts = puts.filter((x) => x.status === 200).length;
    const minimumMs = (Math.max(0, statePuts - BURST) / RATE_HZ) * 1000;
    let readBack = 0;
    for (const [k, v] of values) {
      const content = await user.client.send(getStateContent, { roomId, eventType: EVENT_TYPE, stateKey: k }).catch(() => ({}));
      if (isDeepStrictEqual((content as Record<string, unknown>)[k], v)) readBack++;
    }
    const run = { puts: n, landedMs: round(landedMs, 1), minimumMs, ratio: round(minimumMs > 0 ? landedMs / minimumMs : 0, 3), statePuts, rateLimited: puts.filter((x) => x.status === 429).length, readBack };
    env.log(`ratelimit: ${n} distinct keys landed in ${round(landedMs / 1000, 1)} s; the limit's least is ${minimumMs / 1000} s (ratio ${run.ratio}); ${statePuts} state PUTs, ${run.rateLimited} answered 429, ${readBack}/${n} read back`);
    return run;
  } finally {
    await db.close();
  }
}
