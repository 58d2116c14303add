/**
 * One open for the open curve (../open-curve.ts), in its own process so resident memory is its own:
 * a room of `keys` keys (singleStateKey false: one state event each) served by the in-process fake
 * homeserver (test/helpers/fake-room-server.ts) through the transport option, so what is measured
 * is mxdb's own work (parsing the /sync body, reducing it, saving it), not a homeserver's.
 * Input: MXDB_BENCH_CURVE (JSON: keys, store directory, the key to change). Output: one JSON line.
 * (The fake numbers events from 1 in each process, so cold and warm change different keys: the
 * same key would get the event ID the stored picture already holds.)
 *   cold: the store directory is empty; warm: it holds what a previous run saved.
 * After the first `get`, one other writer's change arrives by /sync: the store bytes that one sync
 * wrote are reported.
 */
import { FileStore, Memory } from "../../src/node.js";
import { fakeRoomServer, ROOM } from "../../test/helpers/fake-room-server.js";

const input = JSON.parse(process.env.MXDB_BENCH_CURVE ?? "{}") as { keys: number; store: string; change: string };
const server = fakeRoomServer();
for (let i = 0; i < input.keys; i++) server.write("dev.opsdroid.database", `key-${i}`, { [`key-${i}`]: { i, note: `value number ${i}` } });
globalThis.gc?.();
const baselineRss = process.memoryUsage().rss;
const store = new FileStore(input.store);
const t = process.hrtime.bigint();
const db = await Memory.open({ homeserver: "http://127.0.0.1:8008", accessToken: "bench", rooms: { main: ROOM }, singleStateKey: false, encryption: false, transport: server.transport, store, syncTimeoutMs: 30_000 });
const value = await db.get(`key-${input.keys - 1}`);
const firstGetMs = Number(process.hrtime.bigint() - t) / 1e6;
globalThis.gc?.();
const rss = process.memoryUsage().rss;
const openBytes = store.bytesWritten;
// One change by another writer: what does saving that sync cost?
const changes = db.watch();
server.write("dev.opsdroid.database", input.change, { [input.change]: { note: "changed" } });
for await (const c of changes) if (c.key === input.change) break;
await changes.return();
await new Promise((r) => setTimeout(r, 50));
const oneSyncBytes = store.bytesWritten - openBytes;
await db.close();
console.log(JSON.stringify({ keys: input.keys, firstGetMs, baselineRss, rss, openBytes, oneSyncBytes, found: value !== undefined }));
