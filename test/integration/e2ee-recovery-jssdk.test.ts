/**
 * Key backup interop with matrix-js-sdk and its Rust crypto (test/interop/jssdk_client.mjs), an
 * independent implementation of secret storage, the recovery key and m.megolm_backup.v1.curve25519-aes-sha2:
 *   - js-sdk, on a new device of mxdb's account, restores mxdb's backup with mxdb's recovery key and
 *     decrypts the value events mxdb wrote (no mxdb device online);
 *   - mxdb, on a new device with an empty store, restores a backup js-sdk made with js-sdk's recovery
 *     key and reads the values js-sdk sent in opsdroid's format (the js-sdk device closed).
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { Memory, MemoryStore, type MemoryOptions } from "../../src/index.js";
import { testHomeserver, newUser, type TestUser } from "../helpers/homeserver.js";
import { startJsSdk, type JsSdkPeer } from "../helpers/jssdk.js";
import { sharedRoom } from "../helpers/rooms.js";
import { eventually } from "../helpers/wait.js";

let baseUrl: string;
const peers = new Set<JsSdkPeer>();
const open = new Set<Memory>();

interface JsGet {
  found: boolean;
  decrypted?: boolean;
  value?: unknown;
  type?: string;
  reason?: string | null;
}

async function memory(user: TestUser, roomId: string, extra: Partial<MemoryOptions> = {}): Promise<Memory> {
  const m = await Memory.open({ homeserver: baseUrl, userId: user.userId, password: user.password, rooms: { main: roomId }, store: new MemoryStore(), syncTimeoutMs: 2000, ...extra });
  open.add(m);
  return m;
}

async function peer(user: TestUser, roomId: string): Promise<JsSdkPeer> {
  const p = await startJsSdk({ homeserver: baseUrl, user_id: user.userId, password: user.password, room_id: roomId });
  peers.add(p);
  return p;
}

before(async () => {
  baseUrl = (await testHomeserver()).info.baseUrl;
});
after(async () => {
  await Promise.all([...open].map((m) => m.close()));
  await Promise.all([...peers].map((p) => p.close()));
});

const VALUES: Record<string, unknown> = { alpha: { text: "first", n: [1, 2] }, beta: 7, gamma: ["x", { y: true }] };

test("matrix-js-sdk restores mxdb's key backup with mxdb's recovery key and decrypts mxdb's values", { timeout: 300_000 }, async () => {
  const alice = await newUser("alice");
  const roomId = await sharedRoom(alice, [], { encrypted: true });
  const a = await memory(alice, roomId);
  for (const [k, v] of Object.entries(VALUES)) await a.put(k, v);
  const recoveryKey = await a.recovery.create();
  open.delete(a);
  await a.close();

  // A js-sdk device of the same account, created after every value was sent: no room key reached it.
  const js = await peer(alice, roomId);
  const blind = await js.request<JsGet>("get", { room_id: roomId, key: "alpha" });
  assert.equal(blind.decrypted, false);
  const restored = await js.request<{ total: number; imported: number }>("restoreBackup", { recoveryKey });
  assert.ok(restored.imported >= 1, JSON.stringify(restored));
  for (const [k, v] of Object.entries(VALUES)) {
    const got = await js.request<JsGet>("get", { room_id: roomId, key: k });
    assert.equal(got.decrypted, true, `${k}: ${got.reason}`);
    assert.equal(got.type, "dev.opsdroid.database");
    assert.deepEqual(got.value, v, k);
  }
});

test("mxdb restores a backup matrix-js-sdk made, with js-sdk's recovery key, and reads js-sdk's values", { timeout: 300_000 }, async () => {
  const jess = await newUser("jess");
  const roomId = await sharedRoom(jess, [], { encrypted: true });
  const js = await peer(jess, roomId);
  const { recoveryKey, version } = await js.request<{ recoveryKey: string; version: string }>("createBackup");
  assert.ok(version);
  for (const [k, v] of Object.entries(VALUES)) await js.request("put", { room_id: roomId, key: k, value: v });
  // js-sdk uploads in the background: wait until its backup holds the room's session.
  await eventually(() => js.request<{ sessions: number }>("backedUp", { room_id: roomId }), (r) => r.sessions >= 1, 60_000, 250);
  await js.close();
  peers.delete(js);

  const m = await memory(jess, roomId, { recoveryKey });
  for (const [k, v] of Object.entries(VALUES)) assert.deepEqual(await m.get(k), v, k);
  const status = await m.recovery.status();
  assert.equal(status.lastRestore?.failed, 0);
  assert.equal(status.deviceBackup?.version, version);
});
