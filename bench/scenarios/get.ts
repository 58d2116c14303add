/**
 * Scenario 1: `get` of a present key. mxdb answers from its synced picture (no request); opsdroid
 * and a raw state GET pay an HTTP round trip each. Per-call latency in microseconds.
 */
import { isDeepStrictEqual } from "node:util";
import { Memory } from "../../src/index.js";
import { getStateContent } from "../../src/http/endpoints/state/get-state.js";
import { putState } from "../../src/http/endpoints/state/put-state.js";
import { EVENT_TYPE } from "../../src/db/format.js";
import type { BenchEnv } from "../lib/env.js";
import { roundSummary, summarize, type Summary } from "../lib/stats.js";

export interface GetResult {
  iterations: { mxdb: number; opsdroid: number; raw: number };
  /** Latency per call, µs. */
  mxdb: Summary;
  opsdroid: Summary;
  raw: Summary;
  opsdroidVersions: Record<string, string>;
}

const VALUE = { hello: "world", n: 42, list: [1, 2, 3] };

export async function benchGet(env: BenchEnv): Promise<GetResult> {
  const n = env.size === "full" ? { mxdb: 200_000, opsdroid: 500, raw: 1_000 } : { mxdb: 20_000, opsdroid: 50, raw: 100 };
  const user = await env.user("get");
  const roomId = await env.room(user);
  // opsdroid's format with singleStateKey true: one event, state key "", every key inside.
  await user.client.send(putState, { roomId, eventType: EVENT_TYPE, stateKey: "", content: { twim: VALUE, other: 1 } });

  env.log(`get: mxdb, ${n.mxdb} calls`);
  const db = await Memory.open({ homeserver: env.hs.baseUrl, accessToken: user.accessToken, rooms: { main: roomId } });
  const mx: number[] = [];
  try {
    for (let i = 0; i < 1_000; i++) await db.get("twim"); // warm-up (JIT)
    for (let i = 0; i < n.mxdb; i++) {
      const t = process.hrtime.bigint();
      await db.get("twim");
      mx.push(Number(process.hrtime.bigint() - t) / 1e3);
    }
    if (!isDeepStrictEqual(await db.get("twim"), VALUE)) throw new Error("mxdb get returned the wrong value");
  } finally {
    await db.close();
  }

  env.log(`get: raw state GET, ${n.raw} calls`);
  const raw: number[] = [];
  for (let i = 0; i < 20; i++) await user.client.send(getStateContent, { roomId, eventType: EVENT_TYPE, stateKey: "" });
  for (let i = 0; i < n.raw; i++) {
    const t = process.hrtime.bigint();
    const content = await user.client.send(getStateContent, { roomId, eventType: EVENT_TYPE, stateKey: "" });
    void content.twim;
    raw.push(Number(process.hrtime.bigint() - t) / 1e3);
  }

  env.log(`get: opsdroid, ${n.opsdroid} calls`);
  const ops = await env.opsdroid(user, roomId, true);
  let opsLatencies: number[];
  const opsdroidVersions = ops.info.versions;
  try {
    await ops.request({ op: "bench_get", key: "twim", n: 20 });
    const { result } = await ops.request<{ latencies_us: number[]; value: unknown }>({ op: "bench_get", key: "twim", n: n.opsdroid });
    if (!isDeepStrictEqual(result.value, VALUE)) throw new Error("opsdroid get returned the wrong value");
    opsLatencies = result.latencies_us;
  } finally {
    await ops.close();
  }
  const out = { iterations: n, mxdb: roundSummary(summarize(mx)), opsdroid: roundSummary(summarize(opsLatencies)), raw: roundSummary(summarize(raw)), opsdroidVersions };
  env.log(`get: median mxdb ${out.mxdb.median} µs (p99 ${out.mxdb.p99}), raw ${out.raw.median} µs, opsdroid ${out.opsdroid.median} µs`);
  return out;
}
