import { test } from "node:test";
import assert from "node:assert/strict";
import { http, HttpResponse } from "msw";
import type { CryptoMachine, OutgoingRequest } from "../../src/crypto/index.js";
import { CryptoDriver } from "../../src/db/crypto-driver.js";
import { HttpClient } from "../../src/http/client.js";
import { fakeClock, mswTransport } from "../helpers/msw-transport.js";

const HS = "http://127.0.0.1:8008";
const C3 = `${HS}/_matrix/client/v3`;

/** The part of CryptoMachine the driver uses, recording what it is told. */
function fakeMachine(queue: OutgoingRequest[]) {
  const sent: { id: string; body: unknown }[] = [];
  const failed: string[] = [];
  const machine = {
    outgoingRequests: () => [...queue],
    markRequestAsSent: async (id: string, body: unknown) => {
      sent.push({ id, body });
      const i = queue.findIndex((r) => r.id === id);
      if (i >= 0) queue.splice(i, 1);
    },
    markRequestAsFailed: (id: string) => {
      failed.push(id);
      const i = queue.findIndex((r) => r.id === id);
      if (i >= 0) queue.splice(i, 1);
    },
  };
  return { machine: machine as unknown as CryptoMachine, sent, failed };
}

const upload: OutgoingRequest = { id: "ku_1", kind: "keys_upload", body: { one_time_keys: { "signed_curve25519:AAAAAQ": { key: "k", signatures: {} } } } };
const query: OutgoingRequest = { id: "kq_1", kind: "keys_query", body: { device_keys: { "@b:hs": [] }, timeout: 10000 } };
const claim: OutgoingRequest = { id: "kc_1", kind: "keys_claim", body: { one_time_keys: { "@b:hs": { DEV: "signed_curve25519" } } } };
const share: OutgoingRequest = { id: "td_1", kind: "to_device", eventType: "m.room.encrypted", txnId: "td_1", body: { messages: { "@b:hs": { DEV: { ciphertext: {} } } } } };

test("each queued request is sent in order and the machine gets the exact response body", { timeout: 30_000 }, async () => {
  const transport = mswTransport([
    http.post(`${C3}/keys/upload`, () => new HttpResponse('{"one_time_key_counts":{"signed_curve25519":50},"extra":1}', { headers: { "content-type": "application/json" } })),
    http.post(`${C3}/keys/query`, () => HttpResponse.json({ device_keys: { "@b:hs": {} }, failures: {} })),
  ]);
  const { machine, sent } = fakeMachine([upload, query]);
  const errors: unknown[] = [];
  const driver = new CryptoDriver(machine, new HttpClient({ baseUrl: HS, accessToken: "t", transport }), (e) => errors.push(e));
  await driver.process();
  assert.deepEqual(errors, []);
  assert.deepEqual(transport.requests.map((r) => `${r.method} ${r.url}`), [`POST ${C3}/keys/upload`, `POST ${C3}/keys/query`]);
  assert.deepEqual(JSON.parse(Buffer.from(transport.requests[1]!.body as Uint8Array).toString("utf8")), { device_keys: { "@b:hs": [] }, timeout: 10000 });
  assert.deepEqual(sent, [
    { id: "ku_1", body: { one_time_key_counts: { signed_curve25519: 50 }, extra: 1 } },
    { id: "kq_1", body: { device_keys: { "@b:hs": {} }, failures: {} } },
  ]);
});

test("a failed upload is reported and stays queued; a refused claim is handed back to the machine", { timeout: 30_000 }, async () => {
  let uploadOk = false;
  const transport = mswTransport([
    http.post(`${C3}/keys/upload`, () =>
      uploadOk ? HttpResponse.json({ one_time_key_counts: {} }) : HttpResponse.json({ errcode: "M_UNKNOWN", error: "One time key already exists" }, { status: 400 }),
    ),
    http.post(`${C3}/keys/claim`, () => HttpResponse.json({ errcode: "M_FORBIDDEN", error: "no" }, { status: 403 })),
  ]);
  const { machine, sent, failed } = fakeMachine([upload, claim]);
  const errors: unknown[] = [];
  const driver = new CryptoDriver(machine, new HttpClient({ baseUrl: HS, accessToken: "t", transport, clock: fakeClock() }), (e) => errors.push(e));
  await driver.process();
  assert.equal(errors.length, 2);
  assert.deepEqual(failed, ["kc_1"]);
  assert.equal(sent.length, 0);
  // The next run (after the next sync) sends the same upload again.
  uploadOk = true;
  await driver.process();
  assert.deepEqual(sent.map((s) => s.id), ["ku_1"]);
  const uploads = transport.requests.filter((r) => r.url.endsWith("/keys/upload"));
  assert.equal(uploads.length, 2);
  assert.deepEqual(uploads[0]!.body, uploads[1]!.body);
});

test("a room-key share that fails is retried by later runs with the same txnId until it gets through", { timeout: 30_000 }, async () => {
  let fail = true;
  const transport = mswTransport([
    http.put(`${C3}/sendToDevice/m.room.encrypted/td_1`, () => (fail ? HttpResponse.json({ errcode: "M_UNKNOWN", error: "down" }, { status: 400 }) : HttpResponse.json({}))),
  ]);
  const { machine, sent } = fakeMachine([]);
  const errors: unknown[] = [];
  const driver = new CryptoDriver(machine, new HttpClient({ baseUrl: HS, accessToken: "t", transport, clock: fakeClock() }), (e) => errors.push(e));
  assert.equal(await driver.sendOwn(share), false);
  await driver.process();
  assert.equal(errors.length, 2);
  // Runs started by sync back off after a failure (1 s, then doubling): nothing is sent meanwhile.
  await driver.processSoon();
  assert.equal(transport.requests.length, 2);
  fail = false;
  await driver.process();
  assert.deepEqual(sent.map((s) => s.id), ["td_1"]);
  await driver.process();
  assert.equal(transport.requests.length, 3, "sent once more after it got through");
  assert.ok(transport.requests.every((r) => r.url.endsWith("/sendToDevice/m.room.encrypted/td_1")));
});

test("calls during a run wait for one more run; a closed driver sends nothing", { timeout: 30_000 }, async () => {
  const transport = mswTransport([http.post(`${C3}/keys/query`, () => HttpResponse.json({ device_keys: {} }))]);
  const queue: OutgoingRequest[] = [query];
  const { machine, sent } = fakeMachine(queue);
  const driver = new CryptoDriver(machine, new HttpClient({ baseUrl: HS, accessToken: "t", transport }), () => {});
  const first = driver.process();
  // Queued while the first run is in flight: the second call resolves only after it was sent.
  queue.push({ ...query, id: "kq_2" });
  await driver.process();
  await first;
  assert.deepEqual(sent.map((s) => s.id), ["kq_1", "kq_2"]);
  await driver.close();
  queue.push({ ...query, id: "kq_3" });
  await driver.process();
  assert.deepEqual(sent.map((s) => s.id), ["kq_1", "kq_2"]);
});
