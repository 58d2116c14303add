/**
 * opsdroid's own DatabaseMatrix with encryption on (ConnectorMatrix enable_encryption, should_encrypt
 * true; test/interop/opsdroid_e2ee_driver.py) and mxdb read each other's encrypted values.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Memory } from "../../src/index.js";
import { getEvent } from "../../src/http/endpoints/events/get-event.js";
import { getStateContent } from "../../src/http/endpoints/state/get-state.js";
import { testHomeserver, newUser, type TestUser } from "../helpers/homeserver.js";
import type { OpsdroidDriver } from "../helpers/opsdroid.js";
import { startEncryptedOpsdroid } from "../helpers/opsdroid-e2ee.js";
import { sharedRoom } from "../helpers/rooms.js";
import { eventually } from "../helpers/wait.js";

let baseUrl: string;
let alice: TestUser;
let olly: TestUser;
let roomId: string;
let ops: OpsdroidDriver | undefined;
let db: Memory | undefined;
const dirs: string[] = [];

before(async () => {
  baseUrl = (await testHomeserver()).info.baseUrl;
  [alice, olly] = await Promise.all([newUser("alice"), newUser("olly")]);
  roomId = await sharedRoom(alice, [olly], { encrypted: true });
});
after(async () => {
  await db?.close();
  await ops?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test("opsdroid's DatabaseMatrix with should_encrypt reads what mxdb wrote, and mxdb reads what it wrote", { timeout: 600_000 }, async () => {
  const store = mkdtempSync(join(tmpdir(), "mxdb-ops-e2ee-"));
  dirs.push(store);
  ops = await startEncryptedOpsdroid({ homeserver: baseUrl, user_id: olly.userId, password: olly.password, rooms: { main: roomId }, store_path: join(store, "nio") });
  const o = ops;
  assert.deepEqual((o.info as unknown as { encrypted_rooms: string[] }).encrypted_rooms, [roomId]);

  db = await Memory.open({ homeserver: baseUrl, accessToken: alice.accessToken, rooms: { main: roomId }, syncTimeoutMs: 2000 });
  const a = db;
  await a.put("from-mxdb", { says: "hello opsdroid" });

  // opsdroid resolves the reference with GET /event and nio decrypts it with the key mxdb shared.
  const seen = await eventually(
    async () => {
      await o.request({ op: "sync", timeout: 500 });
      return o.get("from-mxdb").catch((e: unknown) => e);
    },
    (v) => !(v instanceof Error),
    30_000,
  );
  assert.deepEqual(seen, { says: "hello opsdroid" });

  // Values put together share one event ({k1: v1, k2: v2}), each key referencing it: opsdroid reads
  // each through content[key].
  await Promise.all([a.put("together-1", { n: 1 }), a.put("together-2", ["two", 2])]);
  const refs = (await alice.client.send(getStateContent, { roomId, eventType: "dev.opsdroid.database", stateKey: "" })) as Record<string, { encrypted_val?: string }>;
  assert.ok(refs["together-1"]?.encrypted_val, JSON.stringify(refs));
  assert.equal(refs["together-2"]?.encrypted_val, refs["together-1"]?.encrypted_val);
  const both = await eventually(
    async () => {
      await o.request({ op: "sync", timeout: 500 });
      try {
        return [await o.get("together-1"), await o.get("together-2")];
      } catch (e) {
        return e;
      }
    },
    (v) => !(v instanceof Error),
    30_000,
  );
  assert.deepEqual(both, [{ n: 1 }, ["two", 2]]);

  // opsdroid writes an encrypted value: nio shares its room key with mxdb's device first.
  await o.request({ op: "sync", timeout: 0 });
  assert.equal(await o.put("from-opsdroid", { says: "hello mxdb" }), true);
  const state = (await alice.client.send(getStateContent, { roomId, eventType: "dev.opsdroid.database", stateKey: "" })) as Record<string, { encrypted_val?: string }>;
  const ref = state["from-opsdroid"]?.encrypted_val;
  assert.ok(ref, JSON.stringify(state));
  assert.equal((await alice.client.send(getEvent, { roomId, eventId: ref })).type, "m.room.encrypted");
  // mxdb's own value is still a reference (opsdroid did not rewrite it in plaintext).
  assert.ok(state["from-mxdb"]?.encrypted_val);

  const back = await eventually(() => a.get("from-opsdroid").catch((e: unknown) => e), (v) => !(v instanceof Error) && v !== undefined, 30_000, 100);
  assert.deepEqual(back, { says: "hello mxdb" });
  // And opsdroid reads its own value back, as before.
  assert.deepEqual(await o.get("from-opsdroid"), { says: "hello mxdb" });
});
