/**
 * Interoperability with matrix-js-sdk and its Rust crypto (test/interop/jssdk_client.mjs), the
 * independent implementation most Matrix clients are built on: it joins the encrypted room with a
 * device of its own, decrypts what mxdb wrote, and mxdb decrypts what it wrote in opsdroid's format.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { Memory } from "../../src/index.js";
import { testHomeserver, newUser, type TestUser } from "../helpers/homeserver.js";
import { startJsSdk, type JsSdkPeer } from "../helpers/jssdk.js";
import { sharedRoom } from "../helpers/rooms.js";
import { eventually } from "../helpers/wait.js";

let baseUrl: string;
let alice: TestUser;
let jess: TestUser;
let roomId: string;
let peer: JsSdkPeer | undefined;
let db: Memory | undefined;

interface JsGet {
  found: boolean;
  encrypted?: boolean;
  decrypted?: boolean;
  value?: unknown;
  type?: string;
  reason?: string | null;
}

before(async () => {
  baseUrl = (await testHomeserver()).info.baseUrl;
  [alice, jess] = await Promise.all([newUser("alice"), newUser("jess")]);
  roomId = await sharedRoom(alice, [jess], { encrypted: true });
});
after(async () => {
  await db?.close();
  await peer?.close();
});

test("matrix-js-sdk and mxdb read each other's encrypted values in opsdroid's format", { timeout: 300_000 }, async () => {
  peer = await startJsSdk({ homeserver: baseUrl, user_id: jess.userId, password: jess.password, room_id: roomId });
  const js = peer;
  assert.match(js.info.versions["matrix-js-sdk"] ?? "", /^\d+\.\d+\.\d+$/);
  db = await Memory.open({ homeserver: baseUrl, accessToken: alice.accessToken, rooms: { main: roomId }, syncTimeoutMs: 2000 });
  const a = db;

  // mxdb -> js-sdk
  await a.put("from-mxdb", { secret: "mxdb wrote this", n: [1, 2, 3] });
  const got = await eventually(() => js.request<JsGet>("get", { room_id: roomId, key: "from-mxdb" }), (r) => r.decrypted === true, 60_000, 250);
  assert.equal(got.type, "dev.opsdroid.database");
  assert.deepEqual(got.value, { secret: "mxdb wrote this", n: [1, 2, 3] });

  // js-sdk -> mxdb: js-sdk shares its room key with mxdb's device when it sends.
  await js.request("put", { room_id: roomId, key: "from-js", value: { secret: "js-sdk wrote this" } });
  const back = await eventually(() => a.get("from-js").catch((e: unknown) => e), (v) => !(v instanceof Error) && v !== undefined, 60_000, 100);
  assert.deepEqual(back, { secret: "js-sdk wrote this" });
  assert.deepEqual(await a.keys(), ["from-js", "from-mxdb"]);
});
