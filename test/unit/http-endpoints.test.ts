/**
 * The exact request every endpoint of the catalogue sends: method, full URL (percent-encoding
 * included), headers and body bytes, through HttpClient and the msw transport.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { http, HttpResponse } from "msw";
import { HttpClient } from "../../src/http/client.js";
import type { Endpoint } from "../../src/http/endpoint.js";
import * as api from "../../src/http/index.js";
import { mswTransport } from "../helpers/msw-transport.js";

const HS = "http://127.0.0.1:8008";
const C3 = `${HS}/_matrix/client/v3`;
const TOKEN = "syt_secret_token";

/** Every awkward character the brief names: / # ! : ? space and non-ASCII. */
const ROOM = "!r/o#o?m:h s";
const ROOM_ENC = "!r%2Fo%23o%3Fm%3Ah%20s";
const KEY = "a/b#c!d:e?f g\u00e9\u2603";
const KEY_ENC = "a%2Fb%23c!d%3Ae%3Ff%20g%C3%A9%E2%98%83";

interface Case {
  ep: Endpoint<any, any>;
  args: unknown;
  method: string;
  url: string;
  /** Exact body text, or undefined for no body. */
  body?: string;
  reply: unknown;
}

const stateEvent = { event_id: "$s", type: "m.room.name", sender: "@a:hs", origin_server_ts: 1, content: { name: "n" }, state_key: "" };

const cases: Case[] = [
  { ep: api.getVersions, args: undefined, method: "GET", url: `${HS}/_matrix/client/versions`, reply: { versions: ["v1.12"] } },
  {
    ep: api.login,
    args: { user: "alice", password: "pw", deviceId: "DEV", initialDeviceDisplayName: "mxdb" },
    method: "POST",
    url: `${C3}/login`,
    body: '{"type":"m.login.password","identifier":{"type":"m.id.user","user":"alice"},"password":"pw","device_id":"DEV","initial_device_display_name":"mxdb"}',
    reply: { user_id: "@alice:hs", access_token: "tok", device_id: "DEV" },
  },
  {
    ep: api.login,
    args: { user: "@alice:hs", password: "pw" },
    method: "POST",
    url: `${C3}/login`,
    body: '{"type":"m.login.password","identifier":{"type":"m.id.user","user":"@alice:hs"},"password":"pw"}',
    reply: { user_id: "@alice:hs", access_token: "tok", device_id: "NEW" },
  },
  {
    ep: api.register,
    args: { username: "bob", password: "pw", auth: { type: "m.login.dummy", session: "S" } },
    method: "POST",
    url: `${C3}/register`,
    body: '{"username":"bob","password":"pw","auth":{"type":"m.login.dummy","session":"S"}}',
    reply: { user_id: "@bob:hs", access_token: "t", device_id: "D" },
  },
  { ep: api.whoami, args: undefined, method: "GET", url: `${C3}/account/whoami`, reply: { user_id: "@a:hs" } },
  { ep: api.logout, args: undefined, method: "POST", url: `${C3}/logout`, reply: {} },
  {
    ep: api.createRoom,
    args: { preset: "private_chat", name: "kv", initial_state: [{ type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } }] },
    method: "POST",
    url: `${C3}/createRoom`,
    body: '{"preset":"private_chat","name":"kv","initial_state":[{"type":"m.room.encryption","state_key":"","content":{"algorithm":"m.megolm.v1.aes-sha2"}}]}',
    reply: { room_id: "!new:hs" },
  },
  { ep: api.join, args: { roomIdOrAlias: ROOM }, method: "POST", url: `${C3}/join/${ROOM_ENC}`, body: "{}", reply: { room_id: "!r:hs" } },
  {
    ep: api.join,
    args: { roomIdOrAlias: "#kv/1?:h\u00e9", via: ["hs.one", "h s:8448"], reason: "hi" },
    method: "POST",
    url: `${C3}/join/%23kv%2F1%3F%3Ah%C3%A9?via=hs.one&via=h%20s%3A8448`,
    body: '{"reason":"hi"}',
    reply: { room_id: "!r:hs" },
  },
  { ep: api.join, args: { roomIdOrAlias: "!r:hs", via: [] }, method: "POST", url: `${C3}/join/!r%3Ahs`, body: "{}", reply: { room_id: "!r:hs" } },
  { ep: api.resolveAlias, args: { roomAlias: "#kv/1?:h\u00e9" }, method: "GET", url: `${C3}/directory/room/%23kv%2F1%3F%3Ah%C3%A9`, reply: { room_id: "!r:hs", servers: ["hs"] } },
  { ep: api.joinedMembers, args: { roomId: ROOM }, method: "GET", url: `${C3}/rooms/${ROOM_ENC}/joined_members`, reply: { joined: { "@a:hs": { display_name: "a", avatar_url: null } } } },
  { ep: api.leave, args: { roomId: ROOM }, method: "POST", url: `${C3}/rooms/${ROOM_ENC}/leave`, body: "{}", reply: {} },
  { ep: api.getAllState, args: { roomId: ROOM }, method: "GET", url: `${C3}/rooms/${ROOM_ENC}/state`, reply: [stateEvent] },
  { ep: api.getStateContent, args: { roomId: ROOM, eventType: "dev.opsdroid.database", stateKey: KEY }, method: "GET", url: `${C3}/rooms/${ROOM_ENC}/state/dev.opsdroid.database/${KEY_ENC}`, reply: { k: "v" } },
  { ep: api.getStateContent, args: { roomId: ROOM, eventType: "dev.opsdroid.database", stateKey: "" }, method: "GET", url: `${C3}/rooms/${ROOM_ENC}/state/dev.opsdroid.database/`, reply: { k: "v" } },
  { ep: api.getStateEvent, args: { roomId: ROOM, eventType: "m.room.name", stateKey: "" }, method: "GET", url: `${C3}/rooms/${ROOM_ENC}/state/m.room.name/?format=event`, reply: stateEvent },
  { ep: api.getStateEvent, args: { roomId: ROOM, eventType: "t/y pe", stateKey: KEY }, method: "GET", url: `${C3}/rooms/${ROOM_ENC}/state/t%2Fy%20pe/${KEY_ENC}?format=event`, reply: { ...stateEvent, state_key: KEY } },
  {
    ep: api.putState,
    args: { roomId: ROOM, eventType: "dev.opsdroid.database", stateKey: KEY, content: { "k\u00e9y": "v\u2603", n: [1, 2.5] } },
    method: "PUT",
    url: `${C3}/rooms/${ROOM_ENC}/state/dev.opsdroid.database/${KEY_ENC}`,
    body: '{"k\u00e9y":"v\u2603","n":[1,2.5]}',
    reply: { event_id: "$e" },
  },
  { ep: api.putState, args: { roomId: "!r:hs", eventType: "dev.opsdroid.database", stateKey: "", content: {} }, method: "PUT", url: `${C3}/rooms/!r%3Ahs/state/dev.opsdroid.database/`, body: "{}", reply: { event_id: "$e" } },
  {
    ep: api.send,
    args: { roomId: ROOM, eventType: "dev.opsdroid.database", txnId: "mxdb.1/x", content: { k: "v" } },
    method: "PUT",
    url: `${C3}/rooms/${ROOM_ENC}/send/dev.opsdroid.database/mxdb.1%2Fx`,
    body: '{"k":"v"}',
    reply: { event_id: "$e" },
  },
  { ep: api.getEvent, args: { roomId: ROOM, eventId: "$ev/+=:hs" }, method: "GET", url: `${C3}/rooms/${ROOM_ENC}/event/%24ev%2F%2B%3D%3Ahs`, reply: { ...stateEvent, state_key: undefined, room_id: "!r:hs" } },
  { ep: api.redact, args: { roomId: ROOM, eventId: "$ev", txnId: "t1", reason: "gone" }, method: "PUT", url: `${C3}/rooms/${ROOM_ENC}/redact/%24ev/t1`, body: '{"reason":"gone"}', reply: { event_id: "$r" } },
  { ep: api.redact, args: { roomId: "!r:hs", eventId: "$ev", txnId: "t2" }, method: "PUT", url: `${C3}/rooms/!r%3Ahs/redact/%24ev/t2`, body: "{}", reply: {} },
  {
    ep: api.messages,
    args: { roomId: ROOM, dir: "b", from: "t1 2/3", limit: 50, filter: { types: ["dev.opsdroid.database"] } },
    method: "GET",
    url: `${C3}/rooms/${ROOM_ENC}/messages?dir=b&from=t1%202%2F3&limit=50&filter=%7B%22types%22%3A%5B%22dev.opsdroid.database%22%5D%7D`,
    reply: { start: "t1", chunk: [] },
  },
  { ep: api.messages, args: { roomId: "!r:hs", dir: "f" }, method: "GET", url: `${C3}/rooms/!r%3Ahs/messages?dir=f`, reply: { start: "s", end: "e", chunk: [stateEvent], state: [] } },
  {
    ep: api.context,
    args: { roomId: ROOM, eventId: "$ev/+", limit: 0, filter: { types: ["dev.opsdroid.database"] } },
    method: "GET",
    url: `${C3}/rooms/${ROOM_ENC}/context/%24ev%2F%2B?limit=0&filter=%7B%22types%22%3A%5B%22dev.opsdroid.database%22%5D%7D`,
    reply: { start: "s", end: "e", event: stateEvent, events_before: [], events_after: [], state: [stateEvent] },
  },
  { ep: api.timestampToEvent, args: { roomId: ROOM, ts: 1700000000000, dir: "b" }, method: "GET", url: `${HS}/_matrix/client/v1/rooms/${ROOM_ENC}/timestamp_to_event?ts=1700000000000&dir=b`, reply: { event_id: "$e", origin_server_ts: 1700000000000 } },
  {
    ep: api.uploadKeys,
    args: { one_time_keys: { "signed_curve25519:AAAA": { key: "k", signatures: { "@a:hs": { "ed25519:D": "s" } } } } },
    method: "POST",
    url: `${C3}/keys/upload`,
    body: '{"one_time_keys":{"signed_curve25519:AAAA":{"key":"k","signatures":{"@a:hs":{"ed25519:D":"s"}}}}}',
    reply: { one_time_key_counts: { signed_curve25519: 1 } },
  },
  {
    ep: api.deviceSigningUpload,
    args: { keys: { master_key: { user_id: "@a:hs" } }, auth: { type: "m.login.password", identifier: { type: "m.id.user", user: "@a:hs" }, password: "pw", session: "S" } },
    method: "POST",
    url: `${C3}/keys/device_signing/upload`,
    body: '{"master_key":{"user_id":"@a:hs"},"auth":{"type":"m.login.password","identifier":{"type":"m.id.user","user":"@a:hs"},"password":"pw","session":"S"}}',
    reply: {},
  },
  { ep: api.signaturesUpload, args: { "@a:hs": { D: { user_id: "@a:hs" } } }, method: "POST", url: `${C3}/keys/signatures/upload`, body: '{"@a:hs":{"D":{"user_id":"@a:hs"}}}', reply: { failures: {} } },
  { ep: api.queryKeys, args: { deviceKeys: { "@a:hs": [] }, timeout: 5000 }, method: "POST", url: `${C3}/keys/query`, body: '{"device_keys":{"@a:hs":[]},"timeout":5000}', reply: { device_keys: {}, failures: {} } },
  {
    ep: api.claimKeys,
    args: { oneTimeKeys: { "@a:hs": { D: "signed_curve25519" } } },
    method: "POST",
    url: `${C3}/keys/claim`,
    body: '{"one_time_keys":{"@a:hs":{"D":"signed_curve25519"}}}',
    reply: { one_time_keys: { "@a:hs": { D: { "signed_curve25519:AAAA": { key: "k", signatures: {} } } } } },
  },
  { ep: api.keyChanges, args: { from: "s1 x", to: "s2" }, method: "GET", url: `${C3}/keys/changes?from=s1%20x&to=s2`, reply: { changed: ["@a:hs"], left: [] } },
  {
    ep: api.sendToDevice,
    args: { eventType: "m.room.encrypted", txnId: "t:1", messages: { "@a:hs": { "*": { x: 1 } } } },
    method: "PUT",
    url: `${C3}/sendToDevice/m.room.encrypted/t%3A1`,
    body: '{"messages":{"@a:hs":{"*":{"x":1}}}}',
    reply: {},
  },
  { ep: api.mediaConfig, args: undefined, method: "GET", url: `${HS}/_matrix/client/v1/media/config`, reply: { "m.upload.size": 52428800 } },
];

for (const c of cases) {
  test(`${c.ep.name}: exact request ${c.method} ${c.url.slice(HS.length)}`, { timeout: 30_000 }, async () => {
    const transport = mswTransport([http.all("*", () => HttpResponse.json(c.reply as never))]);
    const client = new HttpClient({ baseUrl: `${HS}/`, accessToken: TOKEN, transport, userAgent: "mxdb-test" });
    await client.call(c.ep, c.args);
    assert.equal(transport.requests.length, 1);
    const req = transport.requests[0]!;
    assert.equal(req.method, c.method);
    assert.equal(c.ep.method, c.method);
    assert.equal(req.url, c.url);
    const expected: Record<string, string> = { "user-agent": "mxdb-test" };
    if (c.ep.auth) expected.authorization = `Bearer ${TOKEN}`;
    if (c.body !== undefined) expected["content-type"] = "application/json";
    assert.deepEqual(req.headers, expected);
    assert.equal(req.body === undefined ? undefined : new TextDecoder().decode(req.body), c.body);
  });
}

test("endpoints without auth send no Authorization header even when the client holds a token", { timeout: 30_000 }, () => {
  const client = new HttpClient({ baseUrl: HS, accessToken: TOKEN, transport: async () => ({ status: 200, headers: {}, body: new Uint8Array() }) });
  const noAuth = [api.getVersions, api.login, api.register, api.resolveAlias];
  for (const ep of noAuth) assert.equal(ep.auth, false, ep.name);
  assert.equal(client.buildRequest(api.resolveAlias, { roomAlias: "#a:hs" }).headers.authorization, undefined);
  assert.equal(client.buildRequest(api.login, { user: "a", password: "p" }).headers.authorization, undefined);
});

test("an auth endpoint without a token fails before sending", { timeout: 30_000 }, () => {
  const client = new HttpClient({ baseUrl: HS, transport: async () => assert.fail("must not send") });
  assert.throws(() => client.buildRequest(api.whoami, undefined), (e: unknown) => api.isMatrixError(e, "M_MISSING_TOKEN"));
});

test("media upload sends the raw bytes with their content type and the filename in the query", { timeout: 30_000 }, async () => {
  const bytes = new Uint8Array([0, 255, 1, 128, 0x7b]);
  const transport = mswTransport([http.post(`${HS}/_matrix/media/v3/upload`, () => HttpResponse.json({ content_uri: "mxc://hs/abc" }))]);
  const client = new HttpClient({ baseUrl: HS, accessToken: TOKEN, transport, userAgent: "ua" });
  const res = await client.send(api.upload, { bytes, contentType: "application/octet-stream", filename: "v a/l\u00e9.bin" });
  assert.equal(res.content_uri, "mxc://hs/abc");
  const req = transport.requests[0]!;
  assert.equal(req.method, "POST");
  assert.equal(req.url, `${HS}/_matrix/media/v3/upload?filename=v%20a%2Fl%C3%A9.bin`);
  assert.deepEqual(req.headers, { "user-agent": "ua", authorization: `Bearer ${TOKEN}`, "content-type": "application/octet-stream" });
  assert.deepEqual(req.body, bytes);
});

test("media upload without a filename has no query string", { timeout: 30_000 }, () => {
  const client = new HttpClient({ baseUrl: HS, accessToken: TOKEN, transport: async () => assert.fail() });
  assert.equal(client.buildRequest(api.upload, { bytes: new Uint8Array([1]), contentType: "text/plain" }).url, `${HS}/_matrix/media/v3/upload`);
});

test("authenticated media download returns the exact bytes, not JSON", { timeout: 30_000 }, async () => {
  const bytes = new Uint8Array([0x7b, 0x22, 0xff, 0x00, 0x10]); // starts like JSON, is not
  const transport = mswTransport([
    http.get(`${HS}/_matrix/client/v1/media/download/:server/:media`, () => new HttpResponse(bytes, { headers: { "content-type": "application/octet-stream" } })),
  ]);
  const client = new HttpClient({ baseUrl: HS, accessToken: TOKEN, transport });
  const media = api.parseMxc("mxc://h%C3%A9.s:8448/AbC-_1")!;
  const got = await client.send(api.download, { ...media, timeoutMs: 20000 });
  assert.deepEqual(got, bytes);
  assert.equal(transport.requests[0]!.url, `${HS}/_matrix/client/v1/media/download/h%25C3%25A9.s%3A8448/AbC-_1?timeout_ms=20000`);
  assert.equal(transport.requests[0]!.headers.authorization, `Bearer ${TOKEN}`);
});

test("parseMxc accepts only mxc://server/id", { timeout: 30_000 }, () => {
  assert.deepEqual(api.parseMxc("mxc://localhost/abc"), { serverName: "localhost", mediaId: "abc" });
  assert.equal(api.parseMxc("https://localhost/abc"), undefined);
  assert.equal(api.parseMxc("mxc://localhost/a/b"), undefined);
  assert.equal(api.parseMxc("mxc://localhost/"), undefined);
});

test("idempotent and rateLimited flags follow the spec and the kind of request", { timeout: 30_000 }, () => {
  const flags = (ep: Endpoint<any, any>) => [ep.idempotent, ep.rateLimited];
  // Creating POSTs and consuming ones are never resent blindly.
  for (const ep of [api.login, api.register, api.logout, api.createRoom, api.claimKeys, api.upload]) assert.equal(ep.idempotent, false, ep.name);
  // GETs and PUTs with a transaction ID or a full value are.
  for (const ep of [api.whoami, api.getStateContent, api.getStateEvent, api.getAllState, api.putState, api.send, api.redact, api.sendToDevice, api.getEvent, api.messages, api.context, api.timestampToEvent, api.download, api.resolveAlias])
    assert.equal(ep.idempotent, true, ep.name);
  // "Rate-limited: Yes" in the spec.
  for (const ep of [api.login, api.register, api.whoami, api.join, api.leave, api.upload, api.download, api.mediaConfig]) assert.equal(ep.rateLimited, true, ep.name);
  for (const ep of [api.putState, api.send, api.redact, api.getStateContent, api.createRoom, api.resolveAlias, api.keyChanges, api.sendToDevice]) assert.equal(ep.rateLimited, false, ep.name);
  assert.deepEqual(flags(api.queryKeys), [true, false]);
});

test("every endpoint links to the v1.19 spec section of its own path", { timeout: 30_000 }, () => {
  const all = (Object.values(api) as unknown[]).filter((v): v is Endpoint<unknown, unknown> => typeof v === "object" && v !== null && "request" in v && "spec" in v);
  assert.ok(all.length >= 25, `found ${all.length} endpoints`);
  for (const ep of all) assert.match(ep.spec, /^https:\/\/spec\.matrix\.org\/v1\.19\/client-server-api\/#(get|put|post|delete)_matrix[a-z0-9_]+$/, ep.name);
  const names = all.map((ep) => ep.name);
  assert.equal(new Set(names).size, names.length, "endpoint names are unique");
});

test("dot segments are refused: a state key of '.' or '..' would reach another path", { timeout: 30_000 }, async () => {
  const transport = mswTransport([http.all("*", () => HttpResponse.json({ event_id: "$e" }))]);
  const client = new HttpClient({ baseUrl: HS, accessToken: TOKEN, transport });
  for (const stateKey of [".", ".."]) {
    await assert.rejects(client.send(api.putState, { roomId: "!r:hs", eventType: "t", stateKey, content: {} }), TypeError);
    assert.throws(() => client.buildRequest(api.getStateContent, { roomId: "!r:hs", eventType: "t", stateKey }), /dot segments/);
  }
  assert.equal(transport.requests.length, 0);
  // Other dotted keys are ordinary segments.
  assert.equal(client.buildRequest(api.getStateContent, { roomId: "!r:hs", eventType: "t", stateKey: "..." }).url, `${C3}/rooms/!r%3Ahs/state/t/...`);
  assert.equal(client.buildRequest(api.getStateContent, { roomId: "!r:hs", eventType: "t", stateKey: ".a" }).url, `${C3}/rooms/!r%3Ahs/state/t/.a`);
});
