import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Memory, type MemoryChange } from "../../src/index.js";
import { login } from "../../src/http/endpoints/account/login.js";
import { memoryTraceSink } from "../../src/http/trace.js";
import { logout } from "../../src/http/endpoints/account/logout.js";
import { newUser, testHomeserver, type TestUser } from "../helpers/homeserver.js";
import { sharedRoom } from "../helpers/rooms.js";
import { eventually } from "../helpers/wait.js";

let baseUrl: string;
let alice: TestUser;
let bob: TestUser;
let roomId: string;
const dirs: string[] = [];

before(async () => {
  baseUrl = (await testHomeserver()).info.baseUrl;
  [alice, bob] = await Promise.all([newUser("alice"), newUser("bob")]);
  roomId = await sharedRoom(alice, [bob]);
});
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test("a password login keeps its device in the store and reuses it on the next open", { timeout: 180_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "mxdb-store-"));
  dirs.push(dir);
  const opts = { homeserver: baseUrl, userId: alice.userId, password: alice.password, rooms: { main: roomId }, store: dir, syncTimeoutMs: 5000 };
  const first = await Memory.open(opts);
  await first.put("session", "one");
  const device = first.deviceId;
  await first.close();
  assert.ok(device && device !== alice.deviceId);
  assert.equal(statSync(join(dir, "mxdb-store.json")).mode & 0o777, 0o600);
  const second = await Memory.open(opts);
  assert.equal(second.deviceId, device);
  assert.equal(await second.get("session"), "one");
  await second.close();
});

test("a wrong password is a MatrixError with its errcode", { timeout: 180_000 }, async () => {
  await assert.rejects(
    Memory.open({ homeserver: baseUrl, userId: alice.userId, password: "wrong", rooms: { main: roomId } }),
    (e: unknown) => (e as { errcode?: string }).errcode === "M_FORBIDDEN",
  );
});

test("watch reports other writers' changes key by key, deletions included", { timeout: 180_000 }, async () => {
  const watcher = await Memory.open({ homeserver: baseUrl, accessToken: bob.accessToken, rooms: { main: roomId }, syncTimeoutMs: 5000 });
  const writer = await Memory.open({ homeserver: baseUrl, accessToken: alice.accessToken, rooms: { main: roomId }, syncTimeoutMs: 5000 });
  const seen: MemoryChange[] = [];
  const stream = watcher.watch();
  const collecting = (async () => {
    for await (const change of stream) {
      seen.push(change);
      if (change.key === "w2" && change.value === undefined) break;
    }
  })();
  await writer.put("w1", { n: 1 });
  await writer.put("w2", [2]);
  // Changes within one sync response are reported once, at their final value: let w2 be seen first.
  await eventually(() => seen.some((c) => c.key === "w2"), (ok) => ok);
  await writer.delete("w2");
  await collecting;
  const w1 = seen.find((c) => c.key === "w1");
  assert.deepEqual(w1 && { room: w1.room, value: w1.value, sender: w1.sender }, { room: roomId, value: { n: 1 }, sender: alice.userId });
  assert.ok(seen.some((c) => c.key === "w2" && c.value === undefined));
  await Promise.all([watcher.close(), writer.close()]);
});

test("a memory whose token is revoked stops syncing, and close still returns (rejecting: its writes could not be verified)", { timeout: 60_000 }, async () => {
  const session = await alice.client.send(login, { user: alice.userId, password: alice.password });
  const errors: unknown[] = [];
  const db = await Memory.open({ homeserver: baseUrl, accessToken: session.access_token, rooms: { main: roomId }, syncTimeoutMs: 1000, encryption: false, onError: (e) => errors.push(e) });
  await db.put("before-logout", 1);
  const other = (await testHomeserver()).client(session.access_token);
  await other.send(logout, undefined);
  await assert.rejects(db.put("after-logout", 2), (e: unknown) => (e as { errcode?: string }).errcode === "M_UNKNOWN_TOKEN");
  // "before-logout" was accepted but flush() can no longer check it on the server.
  await assert.rejects(db.close(), (e: unknown) => (e as { errcode?: string }).errcode === "M_UNKNOWN_TOKEN");
  await db.close(); // closed: a second close has nothing left to do
});

test("a memory with no encrypted room and no crypto account loads no crypto and uploads no keys", { timeout: 180_000 }, async () => {
  const trace = memoryTraceSink();
  const fresh = await newUser("plain");
  const room = await sharedRoom(fresh);
  const db = await Memory.open({ homeserver: baseUrl, accessToken: fresh.accessToken, rooms: { main: room }, syncTimeoutMs: 2000, trace });
  await db.put("plain", true);
  await db.close();
  assert.deepEqual(trace.records.filter((r) => r.url.includes("/keys/")).map((r) => r.url), []);
  // The same device in an encrypted room: the crypto layer opens and publishes its keys.
  const encrypted = await sharedRoom(fresh, [], { encrypted: true });
  const trace2 = memoryTraceSink();
  const db2 = await Memory.open({ homeserver: baseUrl, accessToken: fresh.accessToken, rooms: { main: encrypted }, syncTimeoutMs: 2000, trace: trace2 });
  await db2.put("secret", "s");
  await db2.close();
  assert.ok(trace2.records.some((r) => r.url.endsWith("/keys/upload")));
});
