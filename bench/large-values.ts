/**
 * Large values (docs/LARGE-VALUES.md): put (until flush() has verified it) and a fresh reader's
 * first get (download, hash check, decrypt) of 100 KB, 1 MB and 10 MB values, plain and encrypted,
 * singleStateKey true, on a Synapse started here with rate limits lifted (throughput is what is
 * measured). Medians of `--runs` (default 5) per cell.
 *
 *   npm run bench:large [-- --runs 5 --json]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Memory } from "../src/node.js";
import { createRoom } from "../src/http/endpoints/rooms/create-room.js";
import { join as joinRoom } from "../src/http/endpoints/rooms/join.js";
import { Homeserver } from "../src/homeserver/synapse.js";

const { values } = parseArgs({ options: { runs: { type: "string", default: "5" }, json: { type: "boolean", default: false } } });
const runs = Number(values.runs);
const SIZES = [100 * 1024, 1024 * 1024, 10 * 1024 * 1024];
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Row {
  bytes: number;
  encrypted: boolean;
  putMs: number;
  getMs: number;
}

const hs = await Homeserver.start({ rateLimits: "lifted" });
const dirs: string[] = [];
const rows: Row[] = [];
try {
  const [w, r] = [await hs.registerUser(`lv-w-${Date.now()}`), await hs.registerUser(`lv-r-${Date.now()}`)];
  for (const encrypted of [false, true]) {
    const { room_id } = await hs.client(w.accessToken).send(createRoom, {
      preset: "private_chat",
      invite: [r.userId],
      power_level_content_override: { users: { [r.userId]: 50 } },
      ...(encrypted ? { initial_state: [{ type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } }] } : {}),
    });
    await hs.client(r.accessToken).send(joinRoom, { roomIdOrAlias: room_id });
    const store = (u: { userId: string }) => {
      const d = mkdtempSync(join(tmpdir(), "mxdb-bench-large-"));
      dirs.push(d);
      return d;
    };
    const rStore = store(r);
    const open = (u: { accessToken: string; deviceId: string }, dir: string) => Memory.open({ homeserver: hs.baseUrl, accessToken: u.accessToken, deviceId: u.deviceId, rooms: { main: room_id }, store: dir, syncTimeoutMs: 2_000 });
    // The reader's device exists (and gets room keys) before anything is written.
    const first = await open(r, rStore);
    await first.close();
    const writer = await open(w, store(w));
    for (const bytes of SIZES) {
      const put: number[] = [];
      const get: number[] = [];
      for (let i = 0; i < runs; i++) {
        const key = `v-${bytes}-${i}`;
        const value = { i, blob: "x".repeat(bytes) };
        let t = performance.now();
        await writer.put(key, value);
        await writer.flush();
        put.push(performance.now() - t);
        // A fresh reader each time, so nothing is cached: the whole download path is timed.
        const reader = await open(r, rStore);
        t = performance.now();
        for (;;) {
          const got = (await reader.get(key).catch(() => undefined)) as { i?: number } | undefined;
          if (got?.i === i) break;
          await new Promise((res) => setTimeout(res, 20));
        }
        get.push(performance.now() - t);
        await reader.close();
      }
      rows.push({ bytes, encrypted, putMs: median(put), getMs: median(get) });
    }
    await writer.close();
  }
} finally {
  await hs.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}
if (values.json) console.log(JSON.stringify(rows, null, 2));
else {
  console.log(`Synapse ${hs.info.version}, rate limits lifted; medians of ${runs}.\n`);
  console.log("| value | room | put + flush | first get (fresh reader) |\n| --- | --- | --- | --- |");
  for (const r of rows) console.log(`| ${r.bytes >= 1024 * 1024 ? `${r.bytes / 1024 / 1024} MB` : `${r.bytes / 1024} KB`} | ${r.encrypted ? "encrypted" : "plain"} | ${r.putMs.toFixed(0)} ms | ${r.getMs.toFixed(0)} ms |`);
}
