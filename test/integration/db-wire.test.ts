/**
 * Golden wire transcripts (fixtures/wire/, listed in docs/WIRE.md): for each operation and mode,
 * the exact HTTP exchanges a memory call makes. Background work is left out: the sync long-poll (its
 * timing is the server's) and the device's own key maintenance (keys upload/query/changes, which runs
 * after syncs whatever the caller does); everything else sent while a call runs is in. Set MXDB_RECORD_WIRE=1 to write them anew.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Memory, type SingleStateKey } from "../../src/index.js";
import { memoryTraceSink } from "../../src/http/trace.js";
import { newUser, testHomeserver, type TestUser } from "../helpers/homeserver.js";
import { sharedRoom } from "../helpers/rooms.js";
import { WireNormaliser, type WireExchange } from "../helpers/wire.js";

const WIRE_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "fixtures", "wire");
const RECORD = process.env.MXDB_RECORD_WIRE === "1";
const BACKGROUND = /\/(sync|keys\/upload|keys\/query|keys\/changes)$/;

let baseUrl: string;
const open: Memory[] = [];

before(async () => {
  baseUrl = (await testHomeserver()).info.baseUrl;
});
after(async () => {
  await Promise.all(open.map((m) => m.close()));
});

const MODES: Array<[string, SingleStateKey]> = [
  ["single-state-key", true],
  ["state-key-per-key", false],
  ["named-state-key", "memory"],
];

for (const [dir, mode] of MODES) {
  describe(`wire transcripts, singleStateKey: ${JSON.stringify(mode)}`, () => {
    test("each operation sends exactly the recorded exchanges", { timeout: 180_000 }, async () => {
      // A user per mode: one user's ~15 state PUTs would pass rc_message's burst (10) and add 429s.
      const alice: TestUser = await newUser("wire");
      const roomId = await sharedRoom(alice);
      const trace = memoryTraceSink();
      const db = await Memory.open({ homeserver: baseUrl, accessToken: alice.accessToken, rooms: { main: roomId }, singleStateKey: mode, syncTimeoutMs: 5000, trace });
      open.push(db);
      const host = new URL(baseUrl).host;
      const norm = new WireNormaliser({ [roomId]: "!ROOM", [alice.userId]: "@USER:HS", [host]: "HS" });
      const ops: Array<[string, () => Promise<unknown>]> = [
        ["put-new-key", () => db.put("twim", { hello: "world" })],
        ["put-second-key", () => db.put("count", 1)],
        ["put-unchanged", () => db.put("twim", { hello: "world" })],
        ["get", () => db.get("twim")],
        ["get-absent", () => db.get("nothing")],
        ["delete", () => db.delete("count")],
        ["delete-absent", () => db.delete("nothing")],
        ["delete-list", () => db.delete(["twim", "nothing"])],
        // What flush() sends to verify a write: the settle window, then the key's current event.
        ["put-and-flush", () => db.put("last", true).then(() => db.flush())],
      ];
      for (const [name, op] of ops) {
        await db.flush();
        const from = trace.records.length;
        await op();
        const exchanges: WireExchange[] = trace.records
          .slice(from)
          .filter((r) => !BACKGROUND.test(new URL(r.url).pathname))
          .map((r) => norm.exchange(r));
        const file = join(WIRE_DIR, dir, `${name}.json`);
        if (RECORD) {
          mkdirSync(dirname(file), { recursive: true });
          writeFileSync(file, `${JSON.stringify(exchanges, null, 2)}\n`);
        }
        assert.deepEqual(exchanges, JSON.parse(readFileSync(file, "utf8")), `${dir}/${name}`);
      }
    });
  });
}
