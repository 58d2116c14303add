/**
 * Scenario 4: rate limits lifted, distinct keys, singleStateKey false (one state event per key):
 * puts per second for mxdb (N concurrent puts; its write queue keeps `writeConcurrency` PUTs in
 * flight: the default, and 16 for comparison), opsdroid (a GET and a PUT per put), sequential raw
 * PUTs, and concurrent raw PUTs at a few concurrencies; the best of those is the homeserver's
 * ceiling. Each run writes the same number of fresh keys into a fresh room; the variants take turns within each
 * repeat so that background load spreads evenly. CPU per put, of this process and of Synapse, tells
 * where a gap comes from.
 */
import { Memory, memoryTraceSink } from "../../src/index.js";
import { MemoryStore } from "../../src/store/store.js";
import { SyncLoop } from "../../src/sync/sync-loop.js";
import { putState } from "../../src/http/endpoints/state/put-state.js";
import { EVENT_TYPE } from "../../src/db/format.js";
import { cpuSpan } from "../lib/cpu.js";
import { pool, type BenchEnv, type BenchUser } from "../lib/env.js";
import { msSince, round, roundSummary, summarize, type Summary } from "../lib/stats.js";

export interface ThroughputVariant {
  label: string;
  puts: number;
  /** Puts per second, one per repeat. */
  rates: number[];
  rate: Summary;
  /** CPU ms per put: this process, and Synapse (medians over the repeats); absent for opsdroid's client. */
  clientCpuMsPerPut?: number;
  serverCpuMsPerPut: number;
  /** /sync requests per put during the measured window (mxdb's own loop; the raw+sync diagnostic's). */
  syncsPerPut?: number;
}

export interface ThroughputResult {
  puts: number;
  repeats: number;
  variants: Record<string, ThroughputVariant>;
  ceiling: { variant: string; rate: number };
  mxdbFraction: number;
  /** mxdb over the best raw concurrent rate of the same repeat (both under the same background load). */
  pairedFractions: number[];
  pairedFraction: Summary;
  /** mxdb: from the first put to every write confirmed by its own sync (flush), puts per second. */
  mxdbFlushed: Summary;
}

const RAW_CONCURRENCY = [16, 32];

function value(i: number): Record<string, unknown> {
  return { i, text: `value ${i}`, at: 1_700_000_000_000 + i };
}

async function rawPuts(user: BenchUser, roomId: string, n: number, concurrency: number, tag: string): Promise<void> {
  await pool(
    Array.from({ length: n }, (_, i) => i),
    concurrency,
    async (i) => {
      // opsdroid's format with singleStateKey false: state key = key, content {key: value}.
      await user.client.send(putState, { roomId, eventType: EVENT_TYPE, stateKey: `${tag}-${i}`, content: { [`${tag}-${i}`]: value(i) } });
    },
  );
}

export async function benchThroughput(env: BenchEnv): Promise<ThroughputResult> {
  // The same number of puts for every variant: Synapse's cost per state event grows with the
  // room's state (about 13 ms of its CPU per event in a new room, over 20 at 400 keys).
  const n = env.size === "full" ? 300 : 100;
  const nSeq = n;
  const nOps = n;
  const repeats = env.size === "full" ? 5 : 1;
  const rates: Record<string, number[]> = {};
  const clientCpu: Record<string, number[]> = {};
  const serverCpu: Record<string, number[]> = {};
  const flushed: number[] = [];
  const syncs: Record<string, number[]> = {};
  const pid = env.hs.info.pid;
  /** Time `fn` (which makes `puts` puts) and record its rate and CPU per put under `name`. */
  const measure = async (name: string, puts: number, fn: () => Promise<void>) => {
    const cpu = cpuSpan(pid);
    const t = process.hrtime.bigint();
    await fn();
    const rate = puts / (msSince(t) / 1e3);
    const used = cpu();
    (rates[name] ??= []).push(round(rate, 1));
    (clientCpu[name] ??= []).push(used.clientMs / puts);
    (serverCpu[name] ??= []).push(used.serverMs / puts);
    env.log(`throughput: ${name}: ${round(rate, 1)} puts/s (CPU per put: client ${(used.clientMs / puts).toFixed(2)} ms, Synapse ${(used.serverMs / puts).toFixed(2)} ms)`);
  };

  // Warm Synapse's caches and JIT-free paths before anything is measured.
  const warm = await env.user("tput");
  await rawPuts(warm, await env.room(warm), 100, 16, "warm");
  // A fresh user and room per variant and repeat: the same starting point for each (a user in many
  // rooms makes every /sync cost Synapse more).
  const fresh = async () => {
    const user = await env.user("tput");
    return { user, room: await env.room(user) };
  };
  for (let r = 0; r < repeats; r++) {
    env.log(`throughput: repeat ${r + 1}/${repeats}`);
    for (const c of RAW_CONCURRENCY) {
      const { user, room } = await fresh();
      await measure(`raw-concurrent-${c}`, n, () => rawPuts(user, room, n, c, `r${r}`));
    }
    {
      // Diagnostic: raw PUTs at 16 while a sync loop of the same user long-polls, as mxdb's does.
      const { user, room } = await fresh();
      const loop = new SyncLoop({ http: user.client, userId: user.userId, store: new MemoryStore() });
      loop.start();
      await loop.whenSynced();
      const before = loop.requestCount;
      try {
        await measure("raw-16-sync", n, () => rawPuts(user, room, n, 16, `r${r}`));
      } finally {
        (syncs["raw-16-sync"] ??= []).push((loop.requestCount - before) / n);
        await loop.stop();
      }
    }
    {
      const { user, room } = await fresh();
      await measure("raw-sequential", nSeq, () => rawPuts(user, room, nSeq, 1, `r${r}`));
    }
    // mxdb as a user gets it (default options), and with writeConcurrency 16 for comparison.
    for (const [name, writeConcurrency] of [["mxdb", undefined], ["mxdb-16", 16]] as const) {
      const { user, room } = await fresh();
      const sink = memoryTraceSink();
      const db = await Memory.open({ homeserver: env.hs.baseUrl, accessToken: user.accessToken, rooms: { main: room }, singleStateKey: false, ...(writeConcurrency ? { writeConcurrency } : {}), trace: sink });
      try {
        await Promise.all(Array.from({ length: 20 }, (_, i) => db.put(`warm-${i}`, value(i))));
        await db.flush();
        const t = process.hrtime.bigint();
        const before = sink.records.length;
        await measure(name, n, async () => {
          await Promise.all(Array.from({ length: n }, (_, i) => db.put(`r${r}-${i}`, value(i))));
        });
        (syncs[name] ??= []).push(sink.records.slice(before).filter((x) => x.url.includes("/sync?")).length / n);
        sink.records.length = 0;
        await db.flush();
        if (name === "mxdb") flushed.push(round(n / (msSince(t) / 1e3), 1));
        for (const i of [0, n - 1]) if ((await db.get(`r${r}-${i}`)) === undefined) throw new Error("mxdb lost a put");
      } finally {
        await db.close();
      }
    }
    {
      const { user, room } = await fresh();
      const ops = await env.opsdroid(user, room, false);
      try {
        const items = Array.from({ length: nOps }, (_, i) => [`r${r}-${i}`, value(i)]);
        await ops.request({ op: "bench_put", items: items.slice(0, 10).map(([, v], i) => [`warm-${i}`, v]), concurrency: 16 });
        let failed = 0;
        await measure("opsdroid", nOps, async () => {
          const { result } = await ops.request<{ wall_us: number; results: Array<{ ok: boolean }> }>({ op: "bench_put", items, concurrency: 16 });
          failed = result.results.filter((x) => !x.ok).length;
        });
        if (failed > 0) throw new Error(`throughput: opsdroid: ${failed} puts failed`);
      } finally {
        await ops.close();
      }
    }
  }

  const labels: Record<string, string> = {
    mxdb: `mxdb, ${n} concurrent puts (default options)`,
    "mxdb-16": `mxdb, ${n} concurrent puts, writeConcurrency 16`,
    opsdroid: `opsdroid, ${nOps} puts at concurrency 16`,
    "raw-sequential": `raw PUT, sequential (${nSeq})`,
    "raw-16-sync": `raw PUT, concurrency 16, with a /sync loop running (${n}; diagnostic)`,
  };
  for (const c of RAW_CONCURRENCY) labels[`raw-concurrent-${c}`] = `raw PUT, concurrency ${c} (${n})`;
  const med = (xs: number[]) => round(summarize(xs).median, 2);
  const variants: Record<string, ThroughputVariant> = {};
  for (const [name, list] of Object.entries(rates)) {
    variants[name] = {
      label: labels[name] ?? name,
      puts: name === "opsdroid" ? nOps : name === "raw-sequential" ? nSeq : n,
      rates: list,
      rate: roundSummary(summarize(list), 1),
      ...(name === "opsdroid" ? {} : { clientCpuMsPerPut: med(clientCpu[name]!) }),
      serverCpuMsPerPut: med(serverCpu[name]!),
      ...(syncs[name] ? { syncsPerPut: med(syncs[name]) } : {}),
    };
  }
  const best = RAW_CONCURRENCY.map((c) => `raw-concurrent-${c}`).reduce((a, b) => (variants[b]!.rate.median > variants[a]!.rate.median ? b : a));
  const ceiling = { variant: best, rate: variants[best]!.rate.median };
  const mxdbFraction = round(variants.mxdb!.rate.median / ceiling.rate, 3);
  const pairedFractions = rates.mxdb!.map((m, i) => round(m / Math.max(...RAW_CONCURRENCY.map((c) => rates[`raw-concurrent-${c}`]![i]!)), 3));
  env.log(`throughput: mxdb ${variants.mxdb!.rate.median} puts/s = ${(mxdbFraction * 100).toFixed(1)}% of the ceiling (${best}: ${ceiling.rate} puts/s)`);
  return { puts: n, repeats, variants, ceiling, mxdbFraction, pairedFractions, pairedFraction: roundSummary(summarize(pairedFractions), 3), mxdbFlushed: roundSummary(summarize(flushed), 1) };
}
