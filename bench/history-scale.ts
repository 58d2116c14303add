/**
 * History at scale (docs/HISTORY.md) on a Synapse started here with rate limits lifted:
 *
 * - export (db.entries) and import (db.putAll in batches of 1,000, as mxdb import, then flush) of `--keys` keys
 *   with singleStateKey false (default 2,000: one state PUT per key, so 10,000 take two passes of
 *   10,000 PUTs; `--keys 10000` when there is time), and with singleStateKey true at `--shared-keys`
 *   (default 2,000: 10,000 such keys do not fit one 65,536-byte event): time and state PUTs;
 * - `get --at` in a room of `--events` events (default 10,000) in one shared state key: the value as
 *   of a time halfway through, through the room's state there (timestamp_to_event + context), beside
 *   the walk back through replaces_state it replaces; time and requests.
 *
 * Prints a Markdown table and writes it to bench/results/history-scale.md.
 *
 *   npm run bench:history-scale [-- --keys 2000 --shared-keys 2000 --events 10000 --no-write]
 *   --only transfer | --only at: one half (results/history-scale-transfer.md, -at.md)
 *   --import-only: import a generated export of the same keys, without writing a source room first
 *   --room-write-concurrency N: the memories' roomWriteConcurrency (default Infinity, as Memory.open)
 *   --mode per-key | shared: only that transfer (default both; results/history-scale-transfer-shared.md...)
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Memory, memoryTraceSink, type TraceRecord } from "../src/index.js";
import { createRoom } from "../src/http/endpoints/rooms/create-room.js";
import { putState } from "../src/http/endpoints/state/put-state.js";
import { Homeserver } from "../src/homeserver/synapse.js";
import { projectRoot } from "../src/homeserver/venv.js";
import { historySource, roomRequests, type RoomRequests } from "../src/db/room-requests.js";
import { versionAt } from "../src/db/history-at.js";

const { values } = parseArgs({
  options: { "import-only": { type: "boolean", default: false }, mode: { type: "string", default: "both" }, keys: { type: "string", default: "2000" }, "shared-keys": { type: "string", default: "2000" }, events: { type: "string", default: "10000" }, "no-write": { type: "boolean", default: false }, only: { type: "string" }, "room-write-concurrency": { type: "string", default: "Infinity" } },
});
const keyCount = Number(values.keys);
const sharedKeys = Number(values["shared-keys"]);
const eventCount = Number(values.events);
const log = (line: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
const rows: string[] = [];
const row = (measure: string, result: string) => {
  rows.push(`| ${measure} | ${result} |`);
  log(`${measure}: ${result}`);
};
const notSync = (records: TraceRecord[]) => records.filter((r) => !new URL(r.url).pathname.endsWith("/sync"));
/** The most requests that were open at once. */
const inFlight = (records: TraceRecord[]) => {
  const edges = records.flatMap((r) => [[Date.parse(r.time), 1], [Date.parse(r.time) + r.durationMs, -1]] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let open = 0;
  let most = 0;
  for (const [, d] of edges) most = Math.max(most, (open += d));
  return most;
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** Print the table; write it to results/ unless told not to. */
function finish(): void {
  const head = `Synapse ${hs.info.version}, rate limits lifted, loopback; Node ${process.version}; ${new Date().toISOString()}; whole run ${s(performance.now() - started)}.\n\n| measure | result |\n| --- | --- |\n`;
  const table = head + rows.join("\n") + "\n";
  console.log(table);
  const args = process.argv.slice(2).join(" ");
  const name = ["history-scale", values.only, values.mode === "both" ? undefined : values.mode].filter(Boolean).join("-");
  if (!values["no-write"]) writeFileSync(join(projectRoot(), "bench", "results", `${name}.md`), `# History at scale (npm run bench:history-scale${args ? ` -- ${args}` : ""})\n\n${table}`);
}

const hs = await Homeserver.start({ rateLimits: "lifted", onProgress: log });
const started = performance.now();
try {
  const u = await hs.registerUser(`hist-scale-${Date.now()}`);
  const client = hs.client(u.accessToken);
  const room = async () => (await client.send(createRoom, { preset: "private_chat" })).room_id;
  const open = (roomId: string, singleStateKey: boolean, trace?: ReturnType<typeof memoryTraceSink>) =>
    Memory.open({ homeserver: hs.baseUrl, accessToken: u.accessToken, rooms: { main: roomId }, singleStateKey, encryption: false, roomWriteConcurrency: Number(values["room-write-concurrency"]), ...(trace ? { trace } : {}) });

  const modes = ([[false, keyCount], [true, sharedKeys]] as const).filter(([shared]) => values.mode === "both" || values.mode === (shared ? "shared" : "per-key"));
  for (const [singleStateKey, n] of values.only === "at" ? [] : modes) {
    const mode = `singleStateKey ${singleStateKey}`;
    const [from, to] = [await room(), await room()];
    const generated: { key: string; value: unknown }[] = Array.from({ length: n }, (_, i) => ({ key: `key-${String(i).padStart(5, "0")}`, value: i }));
    let t = performance.now();
    let entries = generated;
    // --import-only: the export as the source room would give it, without writing that room first.
    if (!values["import-only"]) {
      const source = await open(from, singleStateKey);
      await Promise.all(generated.map((e) => source.put(e.key, e.value)));
      await source.flush();
      log(`${mode}: wrote ${n} keys in ${s(performance.now() - t)}`);
      t = performance.now();
      entries = await source.entries();
      row(`export ${n.toLocaleString("en")} keys (db.entries), ${mode}`, `${(performance.now() - t).toFixed(0)} ms, 0 requests (from the synced state)`);
      await source.close();
    }
    const trace = memoryTraceSink();
    const target = await open(to, singleStateKey, trace);
    t = performance.now();
    // As `mxdb import` does: checked together, then queued a batch of 1,000 at a time.
    await target.putAll(entries, { batch: 1000 });
    await target.flush();
    const importMs = performance.now() - t;
    const check = await target.dump();
    if (Object.keys(check).length !== n || entries.some((e) => check[e.key] !== e.value)) throw new Error(`${mode}: the import does not hold the export`);
    const puts = trace.records.filter((r) => r.method === "PUT" && r.url.includes("/state/"));
    row(`import ${values["import-only"] ? `${n.toLocaleString("en")} keys (a generated export)` : "them into another room"}, ${mode}`, `${s(importMs)}, ${puts.length.toLocaleString("en")} state PUTs (${(n / (importMs / 1000)).toFixed(0)} keys/s; up to ${inFlight(puts)} PUTs in flight, median PUT ${median(puts.map((r) => r.durationMs)).toFixed(0)} ms), ${notSync(trace.records).length.toLocaleString("en")} requests besides /sync`);
    await target.close();
  }

  // A room of `eventCount` state events in one shared state key: k is "old" from the first, "new"
  // from the middle; n changes in every event. Raw state PUTs (what writes them is not measured).
  if (values.only !== "transfer") await roomOfEvents();
  finish();
} finally {
  await hs.stop();
}

/**
 * get --at in a room of `eventCount` state events in one shared state key: k is "old" from the
 * first, "new" from the middle; n changes in every event.
 */
async function roomOfEvents(): Promise<void> {
  const u = await hs.registerUser(`hist-at-${Date.now()}`);
  const client = hs.client(u.accessToken);
  const big = (await client.send(createRoom, { preset: "private_chat" })).room_id;
  const half = Math.floor(eventCount / 2);
  const t0 = performance.now();
  // One at a time: concurrent PUTs fork off the same parent, and the chain would skip the losers.
  for (let i = 0; i < eventCount; i++) {
    await client.send(putState, { roomId: big, eventType: "dev.opsdroid.database", stateKey: "", content: { k: i < half ? "old" : "new", n: i } });
    if (i % 1000 === 999) log(`${i + 1} events`);
  }
  log(`wrote a room of ${eventCount} events in ${s(performance.now() - t0)}`);
  let t = performance.now();
  const trace = memoryTraceSink();
  const db = await Memory.open({ homeserver: hs.baseUrl, accessToken: u.accessToken, rooms: { main: big }, encryption: false, trace });
  const history = [];
  t = performance.now();
  for await (const v of db.history("k")) history.push(v);
  const historyMs = performance.now() - t;
  const [newer, older] = history;
  if (history.length !== 2 || newer!.value !== "new" || older!.value !== "old") throw new Error(`history of k: ${JSON.stringify(history.map((v) => v.value))}`);
  const historyRequests = notSync(trace.records).length;
  row(`history of a key in that room (2 versions, the chain through all ${eventCount.toLocaleString("en")} events, /messages pages)`, `${s(historyMs)}, ${historyRequests} requests`);
  const at = new Date(Math.round((older!.ts + newer!.ts) / 2));
  let before = trace.records.length;
  t = performance.now();
  const got = await db.get("k", { at });
  const atMs = performance.now() - t;
  const atRequests = notSync(trace.records.slice(before));
  if (got !== "old") throw new Error(`get at gave ${JSON.stringify(got)}`);
  row(`get --at a time halfway through a room of ${eventCount.toLocaleString("en")} events (timestamp_to_event + context)`, `${atMs.toFixed(0)} ms, ${atRequests.length} requests (${atRequests.map((r) => `${r.method} ${new URL(r.url).pathname.split("/").slice(-2, -1)[0] === "context" ? "context" : new URL(r.url).pathname.split("/").at(-1)}`).join(", ")})`);
  before = trace.records.length;
  t = performance.now();
  const atEvent = await db.get("k", { at: newer!.eventId });
  if (atEvent !== "new") throw new Error(`get at an event gave ${JSON.stringify(atEvent)}`);
  row(`get --at an event ID in that room (context)`, `${(performance.now() - t).toFixed(0)} ms, ${notSync(trace.records.slice(before)).length} request(s)`);
  await db.close();
  // The same read by the walk it replaces (what get --at did before): every event back to the version.
  let walked = 0;
  const requests = roomRequests(client, big);
  const counted: RoomRequests = { ...requests, event: (id) => (walked++, requests.event(id)), currentEvent: (k, type) => (walked++, requests.currentEvent(k, type)) };
  const { stateAt: _s, eventBefore: _e, ...paged } = historySource(counted, true, "k", async (v) => v, 1);
  // One GET per link, as the walk was before the timeline was read a page at a time.
  const walkOnly = { ...paged, event: counted.event };
  t = performance.now();
  const byWalk = await versionAt("k", walkOnly, at, async () => undefined);
  if (byWalk?.value !== "old") throw new Error(`the walk gave ${JSON.stringify(byWalk?.value)}`);
  row(`the same get --at by walking replaces_state (before this change)`, `${s(performance.now() - t)}, ${walked.toLocaleString("en")} requests`);

}
