/**
 * One cold start for scenario 5, in its own process so its memory is its own: resident memory
 * before Memory.open (modules loaded), the time from Memory.open to the first `get`'s answer, and
 * resident memory after it. Input: MXDB_BENCH_OPEN (JSON: homeserver, accessToken, roomId, key, store?: a directory).
 * Output: one JSON line on stdout. run as plain node from a bundle (./open.ts builds it), so
 * that the TypeScript loader's own memory is not counted.
 */
// The Node entry: it registers FileStore for a bundled build (the warm start opens a store directory).
import { Memory } from "../../src/node.js";

const input = JSON.parse(process.env.MXDB_BENCH_OPEN ?? "{}") as { homeserver: string; accessToken: string; roomId: string; key: string; store?: string };
globalThis.gc?.();
const baselineRss = process.memoryUsage().rss;
const t = process.hrtime.bigint();
const db = await Memory.open({ homeserver: input.homeserver, accessToken: input.accessToken, rooms: { main: input.roomId }, singleStateKey: false, ...(input.store ? { store: input.store } : {}) });
const openedMs = Number(process.hrtime.bigint() - t) / 1e6;
const value = await db.get(input.key);
const firstGetMs = Number(process.hrtime.bigint() - t) / 1e6;
const usage = process.memoryUsage();
const keys = (await db.keys()).length;
await db.close();
console.log(JSON.stringify({ openedMs, firstGetMs, baselineRss, rss: usage.rss, heapUsed: usage.heapUsed, found: value !== undefined, keys }));
