/**
 * opsdroid's real DatabaseMatrix (0.31.0, through bench/opsdroid_driver.py) against the real Synapse:
 * the exact state it writes for each single_state_key mode, what it reads back, delete, the legacy
 * `opsdroid.database` migration, and the HTTP requests nio sends per operation. These pin the data
 * format that mxdb must read and write (docs/OPSDROID.md "The data format").
 */
import { after, before, beforeEach, test } from "node:test";
import assert from "node:assert/strict";
import { createRoom } from "../../src/http/endpoints/rooms/create-room.js";
import { getAllState } from "../../src/http/endpoints/state/get-all-state.js";
import { putState } from "../../src/http/endpoints/state/put-state.js";
import type { StateEvent } from "../../src/http/endpoints/schemas.js";
import { newUser, testHomeserver, type TestUser } from "../helpers/homeserver.js";
import { ensureOpsdroidVenv, OpsdroidError, startOpsdroid, type OpsdroidDriver, type OpsdroidInit } from "../helpers/opsdroid.js";

const TYPE = "dev.opsdroid.database";
const LEGACY_TYPE = "opsdroid.database";

let user: TestUser;
let baseUrl: string;
const drivers: OpsdroidDriver[] = [];

before(async () => {
  // The venv install (about 40 s cold) happens once, before any test's clock matters.
  await ensureOpsdroidVenv((line) => process.stderr.write(`# ${line}\n`));
  baseUrl = (await testHomeserver()).info.baseUrl;
});

// A user per test: under Synapse's default limits one user's rooms (rc_room_creation, burst 10)
// and state PUTs (rc_message, burst 10) for the whole file would wait out the limits.
const users: TestUser[] = [];
beforeEach(async () => {
  user = await newUser("opsdroid");
  users.push(user);
});

after(async () => {
  await Promise.all(drivers.map((d) => d.close()));
  await Promise.all(users.map((u) => u.client.close()));
});

async function newRoom(): Promise<string> {
  return (await user.client.send(createRoom, { preset: "private_chat" })).room_id;
}

async function opsdroid(roomId: string, config: Partial<OpsdroidInit> = {}): Promise<OpsdroidDriver> {
  const driver = await startOpsdroid({
    homeserver: baseUrl,
    user_id: user.userId,
    access_token: user.accessToken,
    device_id: user.deviceId,
    rooms: { main: roomId },
    should_encrypt: false,
    ...config,
  });
  drivers.push(driver);
  return driver;
}

/** The room's current state events of one type, read with a plain GET /rooms/{roomId}/state. */
async function stateOf(roomId: string, type = TYPE): Promise<StateEvent[]> {
  const all = await user.client.send(getAllState, { roomId });
  return all.filter((event) => event.type === type);
}

/** [state_key, content] pairs, sorted by state key, for exact comparison. */
async function stateContents(roomId: string, type = TYPE): Promise<[string, unknown][]> {
  return (await stateOf(roomId, type)).map((e): [string, unknown] => [e.state_key, e.content]).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

const MODES: { mode: boolean | string; stateKey: string }[] = [
  { mode: true, stateKey: "" },
  { mode: false, stateKey: "twim" },
  { mode: "fixed-name", stateKey: "fixed-name" },
];

for (const { mode, stateKey } of MODES) {
  test(`single_state_key ${JSON.stringify(mode)}: put writes ${TYPE} with state key "${stateKey}", get reads it, delete empties it`, { timeout: 600_000 }, async () => {
    const roomId = await newRoom();
    const ops = await opsdroid(roomId, { single_state_key: mode });

    assert.equal(await ops.put("twim", { hello: "world" }), true);
    assert.deepEqual(await stateContents(roomId), [[stateKey, { twim: { hello: "world" } }]]);
    assert.deepEqual(await ops.get("twim"), { hello: "world" });

    // The same value again: opsdroid compares and skips the write (its put returns None).
    assert.equal(await ops.put("twim", { hello: "world" }), null);

    assert.deepEqual(await ops.delete("twim"), { hello: "world" });
    // The event stays (a state key exists forever); its content no longer holds the key.
    assert.deepEqual(await stateContents(roomId), [[stateKey, {}]]);
    assert.equal(await ops.get("twim"), null);
  });
}

test("single_state_key true keeps every key in one event and a list delete returns the removed values", { timeout: 600_000 }, async () => {
  const roomId = await newRoom();
  const ops = await opsdroid(roomId, { single_state_key: true });
  await ops.put("a", 1);
  await ops.put("b", { two: [2, 2] });
  await ops.put("c", "three");
  assert.deepEqual(await stateContents(roomId), [["", { a: 1, b: { two: [2, 2] }, c: "three" }]]);

  // A missing key in the list is skipped (opsdroid logs a warning), the others come back in order.
  assert.deepEqual(await ops.delete(["a", "c", "missing"]), [1, "three"]);
  assert.deepEqual(await stateContents(roomId), [["", { b: { two: [2, 2] } }]]);
  assert.deepEqual(await ops.get("b"), { two: [2, 2] });
});

test("a unicode key and a nested value round-trip exactly, as state key and as content", { timeout: 600_000 }, async () => {
  const key = "clé 🔑/ü?#";
  const value = { list: [1, "zwei", { drei: null }, true], nested: { "ß": { deep: ["ü", -7, 9007199254740991] } }, empty: {} };

  const perKeyRoom = await newRoom();
  const perKey = await opsdroid(perKeyRoom, { single_state_key: false });
  assert.equal(await perKey.put(key, value), true);
  assert.deepEqual(await stateContents(perKeyRoom), [[key, { [key]: value }]]);
  assert.deepEqual(await perKey.get(key), value);

  const singleRoom = await newRoom();
  const single = await opsdroid(singleRoom, { single_state_key: true });
  assert.equal(await single.put(key, value), true);
  assert.deepEqual(await stateContents(singleRoom), [["", { [key]: value }]]);
  assert.deepEqual(await single.get(key), value);
});

test("a legacy opsdroid.database event (single state key) is copied to dev.opsdroid.database and redacted on first use", { timeout: 600_000 }, async () => {
  const roomId = await newRoom();
  await user.client.send(putState, { roomId, eventType: LEGACY_TYPE, stateKey: "", content: { legacy: { v: 1 }, other: "x" } });

  const ops = await opsdroid(roomId, { single_state_key: true });
  assert.deepEqual(await ops.get("legacy"), { v: 1 });

  assert.deepEqual(await stateContents(roomId), [["", { legacy: { v: 1 }, other: "x" }]]);
  const [legacy] = await stateOf(roomId, LEGACY_TYPE);
  assert.ok(legacy, "the legacy event is still in state");
  assert.deepEqual(legacy.content, {});
  assert.ok(legacy.unsigned?.redacted_because, "the legacy event was redacted");
});

test("a legacy opsdroid.database event per key is wrapped as {state_key: content} when migrated", { timeout: 600_000 }, async () => {
  const roomId = await newRoom();
  await user.client.send(putState, { roomId, eventType: LEGACY_TYPE, stateKey: "reminders", content: { at: "9:00", n: 3 } });

  const ops = await opsdroid(roomId, { single_state_key: false });
  assert.deepEqual(await ops.get("reminders"), { at: "9:00", n: 3 });
  assert.deepEqual(await stateContents(roomId), [["reminders", { reminders: { at: "9:00", n: 3 } }]]);
  assert.deepEqual((await stateOf(roomId, LEGACY_TYPE)).map((e) => e.content), [{}]);
});

test("opsdroid's request pattern: a migration check first, then one GET per get and GET + PUT per put", { timeout: 600_000 }, async () => {
  const roomId = await newRoom();
  const ops = await opsdroid(roomId, { single_state_key: true });
  // nio percent-encodes the room ID's "!" and drops the trailing slash of an empty state key.
  const room = `/_matrix/client/v3/rooms/${encodeURIComponent(roomId).replace(/!/g, "%21")}`;
  const event = `${room}/state/${TYPE}`;

  const first = await ops.request({ op: "get", key: "k", trace: true });
  assert.deepEqual(first.requests, [
    ["GET", `${room}/state`],
    ["GET", event],
  ]);
  const put = await ops.request({ op: "put", key: "k", value: "v", trace: true });
  assert.deepEqual(put.requests, [
    ["GET", event],
    ["PUT", event],
  ]);
  const get = await ops.request({ op: "get", key: "k", trace: true });
  assert.deepEqual(get, { result: "v", requests: [["GET", event]] });
  const del = await ops.request({ op: "delete", key: "nothing-here", trace: true });
  // delete writes even when nothing was removed.
  assert.deepEqual(del, {
    result: null,
    requests: [
      ["GET", event],
      ["PUT", event],
    ],
  });
});

test("a float value is sent and rejected by the server: the promise rejects with MatrixException M_BAD_JSON", { timeout: 600_000 }, async () => {
  const roomId = await newRoom();
  const ops = await opsdroid(roomId, { single_state_key: false });
  await assert.rejects(ops.put("pi", 3.14), (error: unknown) => {
    assert.ok(error instanceof OpsdroidError);
    assert.equal(error.type, "MatrixException");
    assert.deepEqual({ errcode: error.matrix?.errcode, status: error.matrix?.status }, { errcode: "M_BAD_JSON", status: 400 });
    return true;
  });
  assert.deepEqual(await stateOf(roomId), []);
});

test("bench ops measure inside Python and report per-op results", { timeout: 600_000 }, async () => {
  const roomId = await newRoom();
  const ops = await opsdroid(roomId, { single_state_key: false });
  const put = await ops.request<{ wall_us: number; results: { key: string; ok: boolean; result: unknown; us: number }[] }>({
    op: "bench_put",
    items: [
      ["k1", { n: 1 }],
      ["k2", { n: 2 }],
      ["k3", { n: 3 }],
    ],
    concurrency: 2,
  });
  assert.deepEqual(
    put.result.results.map((r) => [r.key, r.ok, r.result]),
    [
      ["k1", true, true],
      ["k2", true, true],
      ["k3", true, true],
    ],
  );
  assert.ok(put.result.results.every((r) => Number.isInteger(r.us) && r.us > 0));
  const get = await ops.request<{ latencies_us: number[]; value: unknown }>({ op: "bench_get", key: "k2", n: 5 });
  assert.equal(get.result.latencies_us.length, 5);
  assert.deepEqual(get.result.value, { n: 2 });
  assert.deepEqual(await stateContents(roomId), [
    ["k1", { k1: { n: 1 } }],
    ["k2", { k2: { n: 2 } }],
    ["k3", { k3: { n: 3 } }],
  ]);
});

test("memory_in_room runs an op against another room of the connector", { timeout: 600_000 }, async () => {
  const main = await newRoom();
  const other = await newRoom();
  const ops = await opsdroid(main, { single_state_key: false, rooms: { main, other } });
  assert.deepEqual(ops.info.room_ids, { main, other });
  await ops.put("where", "other", { room: "other" });
  await ops.put("where", "main");
  assert.deepEqual(await stateContents(other), [["where", { where: "other" }]]);
  assert.deepEqual(await stateContents(main), [["where", { where: "main" }]]);
  assert.equal(await ops.get("where", { room: other }), "other");
});

test("password login works, and encryption is refused with a clear error", { timeout: 600_000 }, async () => {
  const roomId = await newRoom();
  // A device of its own: logging in with the test user's device ID would end that device's token.
  const ops = await opsdroid(roomId, { access_token: undefined, password: user.password, device_id: "OPSDROIDPW" });
  assert.equal(ops.info.user_id, user.userId);
  assert.equal(ops.info.device_id, "OPSDROIDPW");

  await assert.rejects(
    startOpsdroid({ homeserver: baseUrl, user_id: user.userId, access_token: user.accessToken, rooms: { main: roomId }, should_encrypt: true as unknown as false }),
    (error: unknown) => error instanceof OpsdroidError && error.type === "NotImplementedError" && /encryption/.test(error.message),
  );
});
