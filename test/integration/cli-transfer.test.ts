/**
 * `mxdb export`, `import` and `audit` on the stock Synapse: an export/import round trip between two
 * rooms, interrupted once (the import is killed after its first batch) and run again to finish; an
 * audit that flags a writer outside the allow-list and a write that dropped another writer's key.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Memory } from "../../src/index.js";
import { putState } from "../../src/http/endpoints/state/put-state.js";
import { projectRoot } from "../../src/homeserver/venv.js";
import { testHomeserver, newUser, type TestUser } from "../helpers/homeserver.js";
import { sharedRoom } from "../helpers/rooms.js";
import { eventually } from "../helpers/wait.js";

const root = projectRoot();
const MAIN = join(root, "src", "cli", "main.ts");
let baseUrl: string;
let alice: TestUser;
let bob: TestUser;
const dir = mkdtempSync(join(tmpdir(), "mxdb-transfer-"));
const children: ChildProcess[] = [];

function start(args: string[]): ChildProcess & { result: Promise<{ code: number | null; stdout: string; stderr: string }>; err: () => string } {
  const child = spawn(process.execPath, ["--import", "tsx", MAIN, ...args], { cwd: root, env: { ...process.env, MXDB_HOME: join(dir, "home") }, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const result = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
  return Object.assign(child, { result, err: () => stderr });
}
const as = (u: TestUser, room: string) => ["--homeserver", baseUrl, "--access-token", u.accessToken, "--room", room];

before(async () => {
  baseUrl = (await testHomeserver()).info.baseUrl;
  [alice, bob] = await Promise.all([newUser("xfer-a"), newUser("xfer-b")]);
});
after(() => {
  for (const c of children) c.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

test("export, then an import into another room killed after its first batch and run again: every key arrives once", { timeout: 600_000 }, async () => {
  const source = await sharedRoom(alice);
  const target = await sharedRoom(bob);
  const expected: Record<string, unknown> = {};
  for (let i = 0; i < 1500; i++) expected[`k${String(i).padStart(4, "0")}`] = i % 3 === 0 ? { i } : i;
  const a = await Memory.open({ homeserver: baseUrl, accessToken: alice.accessToken, rooms: { main: source }, encryption: false });
  await Promise.all(Object.entries(expected).map(([k, v]) => a.put(k, v)));
  await a.flush();
  await a.close();

  const file = join(dir, "memory.jsonl");
  const exported = await start(["export", file, ...as(alice, source)]).result;
  assert.equal(exported.code, 0, exported.stderr);
  const lines = readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(lines[0]!.format, "mxdb-export");
  assert.deepEqual(Object.fromEntries(lines.slice(1).map((l) => [l.key, l.value])), expected);
  assert.ok(lines.slice(1).every((l) => l.sender === alice.userId && typeof l.eventId === "string" && typeof l.ts === "number"), "provenance on every line");

  // Interrupted: killed once the first batch of 1,000 has been accepted.
  const first = start(["import", file, ...as(bob, target)]);
  await eventually(() => first.err(), (e) => e.includes("imported 1000/1500"), 300_000, 20);
  first.kill("SIGKILL");
  await first.result;
  const resumed = await start(["import", file, "--json", ...as(bob, target)]).result;
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.deepEqual(JSON.parse(resumed.stdout), { keys: 1500, written: 500, unchanged: 1000 }, "only what was missing is written");
  const check = await Memory.open({ homeserver: baseUrl, accessToken: bob.accessToken, rooms: { main: target }, encryption: false });
  assert.deepEqual(await check.dump(), expected);
  await check.close();
});

test("an import of 10,000 keys into one shared state key is refused before anything is sent, naming the limit and the per-key mode", { timeout: 300_000 }, async () => {
  const target = await sharedRoom(bob);
  const file = join(dir, "ten-thousand.jsonl");
  const rows = Array.from({ length: 10_000 }, (_, i) => JSON.stringify({ key: `key-${String(i).padStart(5, "0")}`, value: i, sender: alice.userId, ts: 1, eventId: "$x" }));
  writeFileSync(file, [JSON.stringify({ format: "mxdb-export", version: 1, exportedAt: new Date(0).toISOString(), singleStateKey: false }), ...rows].join("\n") + "\n");
  const refused = await start(["import", file, "--single-state-key", "true", ...as(bob, target)]).result;
  assert.equal(refused.code, 1, refused.stderr);
  // About 170 KB of entries: over the 48 KiB kept for inline values of the 65,536-byte event.
  assert.match(refused.stderr, /IMPORT_TOO_LARGE: cannot put these 10000 keys together: they share one state event \(state key ""\), which would be about \d{6} bytes of canonical JSON, over the 49152-byte limit \(the part of the 65,536-byte event limit/);
  assert.match(refused.stderr, /--single-state-key false/);
  assert.doesNotMatch(refused.stderr, /imported \d+\//, "no batch was put");
  const check = await Memory.open({ homeserver: baseUrl, accessToken: bob.accessToken, rooms: { main: target }, encryption: false });
  assert.deepEqual(await check.dump(), {});
  await check.close();
});

test("audit: who changed what, flagging a writer outside the allow-list and a write that dropped another writer's key", { timeout: 300_000 }, async () => {
  const room = await sharedRoom(alice, [bob]);
  const a = await Memory.open({ homeserver: baseUrl, accessToken: alice.accessToken, rooms: { main: room }, encryption: false });
  await a.put("kept", 1);
  await a.put("gone", 2);
  await a.flush();
  await a.close();
  // A careless writer (not mxdb) replaces the event without alice's "gone".
  await bob.client.send(putState, { roomId: room, eventType: "dev.opsdroid.database", stateKey: "", content: { kept: 1, mine: 3 } });
  const m = await Memory.open({ homeserver: baseUrl, accessToken: alice.accessToken, rooms: { main: room }, encryption: false });
  const report = await m.audit({ allow: [alice.userId] });
  await m.close();
  assert.deepEqual(
    report.map((r) => [r.kind, r.key, r.sender, r.flags]).sort(),
    [
      ["put", "kept", alice.userId, []],
      ["put", "gone", alice.userId, []],
      ["put", "mine", bob.userId, ["writer not in the allow-list"]],
      ["delete", "gone", bob.userId, ["writer not in the allow-list", `dropped a key written by ${alice.userId}`]],
    ].sort(),
    JSON.stringify(report),
  );
  const cli = await start(["audit", "--allow", alice.userId, "--json", ...as(alice, room)]).result;
  assert.equal(cli.code, 4, "exit status 4: something was flagged");
  assert.equal(cli.stdout.trim().split("\n").length, 4);
});
