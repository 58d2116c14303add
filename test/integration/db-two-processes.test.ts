/**
 * No lost updates across processes: two processes each put 200 distinct keys into one shared state
 * event at the same time, and all 400 are there at the end. The same run with two opsdroid
 * processes records how many keys opsdroid keeps (its read-modify-write has no protection).
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Memory } from "../../src/index.js";
import { newUser, testHomeserver, type TestUser } from "../helpers/homeserver.js";
import { startOpsdroid } from "../helpers/opsdroid.js";
import { sharedRoom } from "../helpers/rooms.js";
import { eventually } from "../helpers/wait.js";

const WRITER = fileURLToPath(new URL("../helpers/memory-writer.ts", import.meta.url));
const PER_PROCESS = 200;

let baseUrl: string;
let alice: TestUser;
let bob: TestUser;
const children: ChildProcessWithoutNullStreams[] = [];

before(async () => {
  baseUrl = (await testHomeserver()).info.baseUrl;
  [alice, bob] = await Promise.all([newUser("alice"), newUser("bob")]);
});
after(() => {
  for (const c of children) c.kill();
});

function writer(user: TestUser, roomId: string, prefix: string) {
  const child = spawn(process.execPath, ["--import", "tsx", WRITER], {
    env: { ...process.env, MXDB_WRITER: JSON.stringify({ homeserver: baseUrl, accessToken: user.accessToken, roomId, prefix, count: PER_PROCESS }) },
    stdio: ["pipe", "pipe", "pipe"],
  });
  children.push(child);
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const expect = async (word: string) => {
    const { value, done } = await lines.next();
    if (done || !String(value).startsWith(word)) throw new Error(`writer ${prefix}: expected ${word}, got ${String(value)}; stderr: ${stderr}`);
  };
  return { child, expect, send: (line: string) => child.stdin.write(`${line}\n`) };
}

async function countKeys(roomId: string, expected: number): Promise<number> {
  const reader = await Memory.open({ homeserver: baseUrl, accessToken: alice.accessToken, rooms: { main: roomId }, syncTimeoutMs: 1000 });
  try {
    return (await eventually(() => reader.keys(), (k) => k.length >= expected, 30_000, 100)).length;
  } finally {
    await reader.close();
  }
}

test("two mxdb processes writing 200 keys each into one state event keep all 400", { timeout: 600_000 }, async (t) => {
  const roomId = await sharedRoom(alice, [bob]);
  const a = writer(alice, roomId, "a");
  const b = writer(bob, roomId, "b");
  await Promise.all([a.expect("ready"), b.expect("ready")]);
  a.send("go");
  b.send("go");
  await Promise.all([a.expect("done"), b.expect("done")]);
  // Both stay open while we read: a writer whose keys a concurrent write dropped puts them back.
  const kept = await countKeys(roomId, 2 * PER_PROCESS);
  a.send("close");
  b.send("close");
  await Promise.all([a.expect("closed"), b.expect("closed")]);
  t.diagnostic(`mxdb kept ${kept} of ${2 * PER_PROCESS} keys`);
  assert.equal(kept, 2 * PER_PROCESS);
});

test("the same run with two opsdroid processes, for the record", { timeout: 600_000 }, async (t) => {
  // Rate limits lifted for these two users only: opsdroid sends one state PUT per put, so under the
  // default rc_message (0.2/s) its 400 PUTs would take half an hour and the record would show the
  // limit (0 kept within the deadline), not what its unprotected read-modify-write loses.
  const [oAlice, oBob] = await Promise.all([newUser("ops-alice", { unlimited: true }), newUser("ops-bob", { unlimited: true })]);
  const roomId = await sharedRoom(oAlice, [oBob]);
  const init = (u: TestUser) => ({ homeserver: baseUrl, user_id: u.userId, access_token: u.accessToken, device_id: u.deviceId, rooms: { main: roomId }, should_encrypt: false as const });
  const [oa, ob] = await Promise.all([startOpsdroid(init(oAlice)), startOpsdroid(init(oBob))]);
  try {
    const items = (p: string) => Array.from({ length: PER_PROCESS }, (_, i) => [`${p}${i}`, { by: p, i }]);
    await Promise.all([
      oa.request({ op: "bench_put", items: items("a"), concurrency: 20, deadline_s: 60 }),
      ob.request({ op: "bench_put", items: items("b"), concurrency: 20, deadline_s: 60 }),
    ]);
  } finally {
    await Promise.all([oa.close(), ob.close()]);
  }
  const reader = await Memory.open({ homeserver: baseUrl, accessToken: oAlice.accessToken, rooms: { main: roomId }, syncTimeoutMs: 1000 });
  const kept = (await reader.keys()).length;
  await reader.close();
  t.diagnostic(`opsdroid kept ${kept} of ${2 * PER_PROCESS} keys`);
  assert.ok(kept <= 2 * PER_PROCESS && kept > 0);
});
