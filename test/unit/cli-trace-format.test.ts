import { test } from "node:test";
import assert from "node:assert/strict";
import type { TraceRecord } from "../../src/http/trace.js";
import { endpointOf, formatExchange, formatSummary, parseTrace, summarise } from "../../src/cli/trace-format.js";

const record = (over: Partial<TraceRecord>): TraceRecord => ({
  time: "2025-01-01T00:00:00.000Z",
  method: "GET",
  url: "http://127.0.0.1:8008/_matrix/client/v3/sync",
  requestHeaders: {},
  requestBody: null,
  status: 200,
  responseHeaders: {},
  responseBody: "{}",
  durationMs: 10,
  ...over,
});

test("endpointOf names the endpoint with the spec's path parameters", { timeout: 30_000 }, () => {
  const hs = "http://127.0.0.1:8008/_matrix/client/v3";
  assert.equal(endpointOf("PUT", `${hs}/rooms/!r%3Ax/state/dev.opsdroid.database/`), "PUT /_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey}");
  assert.equal(endpointOf("PUT", `${hs}/rooms/!r%3Ax/state/dev.opsdroid.database/k`), "PUT /_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey}");
  assert.equal(endpointOf("PUT", `${hs}/rooms/!r%3Ax/send/m.room.encrypted/m123.4`), "PUT /_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}");
  assert.equal(endpointOf("GET", `${hs}/rooms/!r%3Ax/event/%24e`), "GET /_matrix/client/v3/rooms/{roomId}/event/{eventId}");
  assert.equal(endpointOf("GET", `${hs}/rooms/!r%3Ax/joined_members`), "GET /_matrix/client/v3/rooms/{roomId}/joined_members");
  assert.equal(endpointOf("GET", `${hs}/directory/room/%23a%3Ab`), "GET /_matrix/client/v3/directory/room/{roomAlias}");
  assert.equal(endpointOf("GET", `${hs}/sync?since=s1&timeout=30000`), "GET /_matrix/client/v3/sync");
});

test("formatExchange shows status, duration, bodies as indented JSON, and notes base64 bodies", { timeout: 30_000 }, () => {
  const text = formatExchange(record({ method: "PUT", url: "http://h/_matrix/client/v3/rooms/!r/state/t/", requestBody: '{"a":{"b":1}}', responseBody: '{"event_id":"$e"}', durationMs: 12.4 }));
  assert.match(text, /^── 2025-01-01T00:00:00.000Z {2}PUT http:\/\/h\/_matrix\/client\/v3\/rooms\/!r\/state\/t\/$/m);
  assert.match(text, /^ {3}200 {2}in 12 ms/m);
  assert.match(text, /^ {4}\{\n {6}"a": \{\n {8}"b": 1\n {6}\}\n {4}\}$/m);
  const binary = formatExchange(record({ responseBody: Buffer.from([0xff, 0x00, 0x01]).toString("base64"), responseBodyEncoding: "base64" }));
  assert.match(binary, /\(binary, 3 bytes, base64 in the trace\)/);
  const failed = formatExchange(record({ status: null, responseBody: null, responseHeaders: null, error: "ECONNREFUSED" }));
  assert.match(failed, /no response: ECONNREFUSED/);
});

test("summarise counts requests and bytes per endpoint", { timeout: 30_000 }, () => {
  const s = summarise([
    record({ method: "PUT", url: "http://h/_matrix/client/v3/rooms/!r/state/t/", requestBody: '{"k":"é"}', responseBody: '{"event_id":"$1"}' }),
    record({ method: "PUT", url: "http://h/_matrix/client/v3/rooms/!r/state/t/", requestBody: "{}", responseBody: '{"errcode":"M_FORBIDDEN"}', status: 403 }),
    record({ responseBody: "{}", durationMs: 30000 }),
  ]);
  assert.equal(s.requests, 3);
  assert.equal(s.sentBytes, 10 + 2, "bytes are UTF-8 bytes (é is 2), not characters");
  assert.equal(s.receivedBytes, 17 + 25 + 2);
  const put = s.byEndpoint.get("PUT /_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey}")!;
  assert.equal(put.count, 2);
  assert.equal(put.errors, 1);
  assert.match(formatSummary(s), /^ +2 {2}PUT \/_matrix\/client\/v3\/rooms\/\{roomId\}.* \(1 errors\)$/m);
});

test("parseTrace names a line that is not a trace record", { timeout: 30_000 }, () => {
  assert.equal(parseTrace(`${JSON.stringify(record({}))}\n\n`).length, 1);
  assert.throws(() => parseTrace('{"method":"GET","url":"x"}\nnot json\n', "t.jsonl"), /t\.jsonl line 2 is not JSON/);
  assert.throws(() => parseTrace('{"hello":1}\n', "t.jsonl"), /line 1 is not a trace record/);
});
