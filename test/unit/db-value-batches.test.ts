/**
 * Encrypted values put together share one value event (src/db/value-batches.ts), and every value
 * still reads back as itself: through the batching alone, and through ValueEncryption with a real
 * CryptoMachine against a small in-process homeserver (send, get event, keys).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { splitIntoEvents, ValueBatches } from "../../src/db/value-batches.js";
import { ValueEncryption } from "../../src/db/encryption.js";
import { UndecryptableValueError } from "../../src/db/errors.js";
import { HttpClient } from "../../src/http/client.js";
import type { HttpRequest, HttpResponse } from "../../src/http/types.js";
import { openClient } from "../helpers/crypto-clients.js";

const ROOM = "!room:hs";
const USER = "@me:hs";

/** Deferred callbacks run when the test says, so "the same turn" is explicit. */
function manualDefer() {
  const queue: Array<() => void> = [];
  return { defer: (fn: () => void) => void queue.push(fn), run: () => queue.splice(0).forEach((fn) => fn()) };
}

/** A sendEvent whose answers the test releases; records each event's content. */
function recordingSender() {
  const sent: Array<{ content: Record<string, unknown>; answer: (id: string) => void; fail: (e: unknown) => void }> = [];
  const send = (_roomId: string, content: Record<string, unknown>) =>
    new Promise<string>((answer, fail) => {
      sent.push({ content, answer, fail });
    });
  return { sent, send };
}

const tick = () => new Promise<void>((r) => setImmediate(r));

test("values put in the same turn go out in one event, and each resolves with its ID", { timeout: 10_000 }, async () => {
  const d = manualDefer();
  const s = recordingSender();
  const batches = new ValueBatches(s.send, d.defer);
  const ids = Promise.all([batches.add(ROOM, "a", 1), batches.add(ROOM, "b", { deep: [true] }), batches.add(ROOM, "c", "three")]);
  d.run();
  await tick();
  assert.deepEqual(s.sent.map((e) => e.content), [{ a: 1, b: { deep: [true] }, c: "three" }]);
  s.sent[0]!.answer("$one");
  assert.deepEqual(await ids, ["$one", "$one", "$one"]);
});

test("values put while an event is being sent wait and share the next one", { timeout: 10_000 }, async () => {
  const d = manualDefer();
  const s = recordingSender();
  const batches = new ValueBatches(s.send, d.defer);
  const first = batches.add(ROOM, "a", 1);
  d.run();
  await tick();
  const later = Promise.all([batches.add(ROOM, "b", 2), batches.add(ROOM, "c", 3)]);
  await tick();
  assert.deepEqual(s.sent.map((e) => e.content), [{ a: 1 }], "nothing more is sent while the first event is in flight");
  s.sent[0]!.answer("$1");
  assert.equal(await first, "$1");
  await tick();
  assert.deepEqual(s.sent.map((e) => e.content), [{ a: 1 }, { b: 2, c: 3 }]);
  s.sent[1]!.answer("$2");
  assert.deepEqual(await later, ["$2", "$2"]);
});

test("two puts of one key keep two values behind two references; other rooms get their own events", { timeout: 10_000 }, async () => {
  const d = manualDefer();
  const s = recordingSender();
  const batches = new ValueBatches(s.send, d.defer);
  const ids = Promise.all([batches.add(ROOM, "k", "old"), batches.add(ROOM, "x", 1), batches.add(ROOM, "k", "new"), batches.add("!other:hs", "k", "elsewhere")]);
  d.run();
  await tick();
  assert.deepEqual(s.sent.map((e) => e.content), [{ k: "old", x: 1 }, { k: "new" }, { k: "elsewhere" }]);
  s.sent.forEach((e, i) => e.answer(`$${i}`));
  assert.deepEqual(await ids, ["$0", "$0", "$1", "$2"]);
});

test("a failed event rejects its own values only, and the next put goes through", { timeout: 10_000 }, async () => {
  const d = manualDefer();
  const s = recordingSender();
  const batches = new ValueBatches(s.send, d.defer, 20);
  // A budget of 20 bytes of content JSON: {"a":"0123456789"} alone is 18.
  const a = batches.add(ROOM, "a", "0123456789");
  const b = batches.add(ROOM, "b", "9876543210");
  d.run();
  await tick();
  assert.deepEqual(s.sent.map((e) => e.content), [{ a: "0123456789" }, { b: "9876543210" }]);
  const boom = new Error("M_FORBIDDEN");
  s.sent[0]!.fail(boom);
  s.sent[1]!.answer("$b");
  await assert.rejects(a, (e) => e === boom);
  assert.equal(await b, "$b");
  const c = batches.add(ROOM, "c", 3);
  d.run();
  await tick();
  s.sent[2]!.answer("$c");
  assert.equal(await c, "$c");
  assert.deepEqual(s.sent[2]!.content, { c: 3 });
});

test("events are cut at the byte budget of their content JSON; a value over it goes alone", { timeout: 10_000 }, () => {
  const entry = (key: string, value: unknown) => ({ key, value, bytes: JSON.stringify(key).length + JSON.stringify(value).length + 2 });
  const values = [entry("a", "x".repeat(10)), entry("b", "y".repeat(10)), entry("big", "z".repeat(100)), entry("c", 1), entry("d", 2)];
  const events = splitIntoEvents(values, 40);
  assert.deepEqual(
    events.map((e) => e.map((v) => v.key)),
    [["a", "b"], ["big"], ["c", "d"]],
  );
  for (const e of events.filter((e) => e.length > 1)) {
    assert.ok(JSON.stringify(Object.fromEntries(e.map((v) => [v.key, v.value]))).length <= 40);
  }
});

/** Just enough homeserver for one device writing and reading value events in one room. */
function valueServer() {
  const events = new Map<string, { type: string; room_id: string; event_id: string; sender: string; origin_server_ts: number; content: Record<string, unknown> }>();
  const gets: string[] = [];
  let n = 0;
  const json = (status: number, body: unknown): HttpResponse => ({ status, headers: { "content-type": "application/json" }, body: new TextEncoder().encode(JSON.stringify(body)) });
  const transport = async (req: HttpRequest): Promise<HttpResponse> => {
    const path = decodeURIComponent(new URL(req.url).pathname);
    const body = req.body ? (JSON.parse(new TextDecoder().decode(req.body)) as Record<string, unknown>) : {};
    if (path.endsWith("/keys/upload")) return json(200, { one_time_key_counts: { signed_curve25519: 50 } });
    if (path.endsWith("/keys/query")) return json(200, { device_keys: {}, failures: {} });
    // The first encrypted use bootstraps cross-signing (src/db/cross-signing-setup.ts): accepted as is.
    if (path.endsWith("/keys/device_signing/upload") || path.endsWith("/keys/signatures/upload")) return json(200, { failures: {} });
    const send = /\/rooms\/([^/]+)\/send\/m\.room\.encrypted\/[^/]+$/.exec(path);
    if (req.method === "PUT" && send) {
      const event_id = `$v${++n}`;
      events.set(event_id, { type: "m.room.encrypted", room_id: send[1]!, event_id, sender: USER, origin_server_ts: 1000 + n, content: body });
      return json(200, { event_id });
    }
    const get = /\/rooms\/([^/]+)\/event\/([^/]+)$/.exec(path);
    if (req.method === "GET" && get) {
      gets.push(get[2]!);
      const e = events.get(get[2]!);
      return e && e.room_id === get[1] ? json(200, e) : json(404, { errcode: "M_NOT_FOUND", error: "no event" });
    }
    return json(404, { errcode: "M_UNRECOGNIZED", error: `${req.method} ${path}` });
  };
  return { events, gets, http: new HttpClient({ baseUrl: "http://127.0.0.1:8008", accessToken: "t", transport }) };
}

test("ValueEncryption: values put together share one Megolm event; a reader with an empty cache fetches it once and reads each value", { timeout: 60_000 }, async () => {
  const client = await openClient(USER, "DEV1");
  const server = valueServer();
  const errors: unknown[] = [];
  const writer = new ValueEncryption(client.machine, { userId: USER, deviceId: "DEV1", password: undefined }, server.http, (e) => errors.push(e));
  const values: Record<string, unknown> = { alpha: { n: 1 }, beta: [1, "two"], gamma: "γ", "__proto__": { not: "a prototype" } };
  const ids = await Promise.all(Object.entries(values).map(([k, v]) => writer.encryptValue(ROOM, k, v)));
  assert.deepEqual(new Set(ids).size, 1, "one event for the four values");
  assert.equal(server.events.size, 1);
  const ev = server.events.get(ids[0]!)!;
  assert.equal(ev.content.algorithm, "m.megolm.v1.aes-sha2");
  assert.ok(!JSON.stringify(ev.content).includes("alpha"), "the keys travel encrypted");
  // The writer reads its own values from its cache; a second layer over the same device, from the event.
  for (const [k, v] of Object.entries(values)) assert.deepEqual(await writer.decryptValue(ROOM, k, ids[0]!), v);
  assert.deepEqual(server.gets, []);
  const reader = new ValueEncryption(client.machine, { userId: USER, deviceId: "DEV1", password: undefined }, server.http, (e) => errors.push(e));
  const read = await Promise.all(Object.keys(values).map((k) => reader.decryptValue(ROOM, k, ids[0]!)));
  assert.deepEqual(read, Object.values(values));
  assert.deepEqual(server.gets, [ids[0]], "the event is fetched and decrypted once for all its values");
  // A key the event does not carry is undecryptable, and the error names that key.
  await assert.rejects(reader.decryptValue(ROOM, "delta", ids[0]!), (e: unknown) => e instanceof UndecryptableValueError && e.key === "delta" && /no field "delta"/.test(e.message));
  // The same event read for another room is refused, not answered from the cache.
  await assert.rejects(reader.decryptValue("!elsewhere:hs", "alpha", ids[0]!), (e: unknown) => e instanceof UndecryptableValueError && e.roomId === "!elsewhere:hs");
  // Two puts of one key in one turn: two events, each with its own value.
  const [old, fresh] = await Promise.all([writer.encryptValue(ROOM, "k", "old"), writer.encryptValue(ROOM, "k", "new")]);
  assert.notEqual(old, fresh);
  const third = new ValueEncryption(client.machine, { userId: USER, deviceId: "DEV1", password: undefined }, server.http, (e) => errors.push(e));
  assert.deepEqual([await third.decryptValue(ROOM, "k", old), await third.decryptValue(ROOM, "k", fresh)], ["old", "new"]);
  assert.deepEqual(errors, []);
  client.machine.close();
});
