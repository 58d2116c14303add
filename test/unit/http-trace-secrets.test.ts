/**
 * The wire trace over the calls that carry secrets (register, login, whoami): no access token or
 * password anywhere in the records, every other byte kept.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { http, HttpResponse } from "msw";
import { HttpClient } from "../../src/http/client.js";
import { login, registerWithDummyAuth, whoami } from "../../src/http/index.js";
import { memoryTraceSink } from "../../src/http/trace.js";
import { fakeClock, mswTransport } from "../helpers/msw-transport.js";

const HS = "http://127.0.0.1:8008";
const C3 = `${HS}/_matrix/client/v3`;
const PASSWORD = "hunter2-\u00e9\"quoted\\";
const REG_TOKEN = "syt_cmVnaXN0ZXI_regtoken";
const LOGIN_TOKEN = "syt_bG9naW4_logintoken";

test("trace of register, login and whoami holds no token or password, and every other byte", { timeout: 30_000 }, async () => {
  let registerCalls = 0;
  const transport = mswTransport([
    http.post(`${C3}/register`, () =>
      ++registerCalls === 1
        ? HttpResponse.json({ session: "SESSION1", flows: [{ stages: ["m.login.dummy"] }], params: {} }, { status: 401 })
        : HttpResponse.json({ user_id: "@al:hs", access_token: REG_TOKEN, device_id: "REGDEV", home_server: "hs" }),
    ),
    http.post(`${C3}/login`, () => HttpResponse.json({ user_id: "@al:hs", access_token: LOGIN_TOKEN, device_id: "DEV", home_server: "hs" })),
    http.get(`${C3}/account/whoami`, () => HttpResponse.json({ user_id: "@al:hs", device_id: "DEV", is_guest: false })),
  ]);
  const sink = memoryTraceSink();
  const client = new HttpClient({ baseUrl: HS, transport, trace: sink, clock: fakeClock() });

  const reg = await registerWithDummyAuth(client, { username: "al", password: PASSWORD });
  assert.equal(reg.access_token, REG_TOKEN);
  const session = await client.send(login, { user: "al", password: PASSWORD, deviceId: "DEV" });
  client.setAccessToken(session.access_token);
  await client.send(whoami, undefined);

  const all = JSON.stringify(sink.records);
  assert.equal(sink.records.length, 4);
  for (const secret of [PASSWORD, JSON.stringify(PASSWORD).slice(1, -1), "hunter2", REG_TOKEN, LOGIN_TOKEN, "regtoken", "logintoken"]) {
    assert.ok(!all.includes(secret), `trace leaks ${secret}`);
  }
  const [reg1, reg2, log, who] = sink.records;
  // Everything else is byte for byte what went over the wire.
  assert.equal(reg1!.requestBody, '{"username":"al","password":"<redacted>"}');
  assert.equal(reg1!.status, 401);
  assert.equal(reg1!.responseBody, '{"session":"SESSION1","flows":[{"stages":["m.login.dummy"]}],"params":{}}');
  assert.equal(reg2!.requestBody, '{"username":"al","password":"<redacted>","auth":{"type":"m.login.dummy","session":"SESSION1"}}');
  assert.equal(reg2!.responseBody, '{"user_id":"@al:hs","access_token":"<redacted>","device_id":"REGDEV","home_server":"hs"}');
  assert.equal(log!.url, `${C3}/login`);
  assert.equal(log!.requestBody, '{"type":"m.login.password","identifier":{"type":"m.id.user","user":"al"},"password":"<redacted>","device_id":"DEV"}');
  assert.equal(log!.responseBody, '{"user_id":"@al:hs","access_token":"<redacted>","device_id":"DEV","home_server":"hs"}');
  assert.equal(who!.requestHeaders.authorization, "Bearer <redacted>");
  assert.equal(who!.requestBody, null);
  assert.equal(who!.responseBody, '{"user_id":"@al:hs","device_id":"DEV","is_guest":false}');
  // The transport itself saw the real secrets: redaction happens only in the trace.
  assert.ok(new TextDecoder().decode(transport.requests[2]!.body).includes("hunter2"));
  assert.equal(transport.requests[3]!.headers.authorization, `Bearer ${LOGIN_TOKEN}`);
});
