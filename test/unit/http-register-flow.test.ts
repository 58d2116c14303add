/** The two-step m.login.dummy registration (src/http/register-flow.ts). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { http, HttpResponse } from "msw";
import { HttpClient } from "../../src/http/client.js";
import { MatrixError } from "../../src/http/errors.js";
import { registerWithDummyAuth, RegistrationFlowError } from "../../src/http/register-flow.js";
import { fakeClock, mswTransport } from "../helpers/msw-transport.js";

const HS = "http://127.0.0.1:8008";
const URL_ = `${HS}/_matrix/client/v3/register`;

function server(first: () => Response, second: () => Response = () => HttpResponse.json({ user_id: "@n:hs", access_token: "t", device_id: "D" })) {
  let calls = 0;
  const transport = mswTransport([http.post(URL_, () => (++calls === 1 ? first() : second()))]);
  return { transport, client: new HttpClient({ baseUrl: HS, transport, clock: fakeClock() }) };
}

test("401 with a dummy flow: the second call completes the stage in the same session", { timeout: 30_000 }, async () => {
  const { client, transport } = server(() =>
    HttpResponse.json({ session: "xyz", flows: [{ stages: ["m.login.recaptcha"] }, { stages: ["m.login.dummy"] }], params: {} }, { status: 401 }),
  );
  const res = await registerWithDummyAuth(client, { username: "n", password: "p", deviceId: "D", initialDeviceDisplayName: "mxdb" });
  assert.deepEqual(res, { user_id: "@n:hs", access_token: "t", device_id: "D" });
  const bodies = transport.requests.map((r) => new TextDecoder().decode(r.body));
  assert.deepEqual(bodies, [
    '{"username":"n","password":"p","device_id":"D","initial_device_display_name":"mxdb"}',
    '{"username":"n","password":"p","device_id":"D","initial_device_display_name":"mxdb","auth":{"type":"m.login.dummy","session":"xyz"}}',
  ]);
});

test("a server with no dummy-only flow is refused with the flows in the error", { timeout: 30_000 }, async () => {
  const { client, transport } = server(() => HttpResponse.json({ session: "s", flows: [{ stages: ["m.login.email.identity"] }, { stages: ["m.login.dummy", "m.login.terms"] }] }, { status: 401 }));
  await assert.rejects(registerWithDummyAuth(client, { username: "n", password: "p" }), (e: unknown) => e instanceof RegistrationFlowError && /m\.login\.email\.identity/.test(e.message) && e.uia?.session === "s");
  assert.equal(transport.requests.length, 1);
});

test("a Matrix error on the first call (M_USER_IN_USE) is passed through", { timeout: 30_000 }, async () => {
  const { client } = server(() => HttpResponse.json({ errcode: "M_USER_IN_USE", error: "User ID already taken." }, { status: 400 }));
  await assert.rejects(registerWithDummyAuth(client, { username: "n", password: "p" }), (e: unknown) => e instanceof MatrixError && e.errcode === "M_USER_IN_USE");
});

test("a server that registers at once (no UIA) answers the first call", { timeout: 30_000 }, async () => {
  const { client, transport } = server(() => HttpResponse.json({ user_id: "@n:hs", access_token: "t", device_id: "D" }));
  assert.equal((await registerWithDummyAuth(client, { username: "n", password: "p" })).user_id, "@n:hs");
  assert.equal(transport.requests.length, 1);
});

test("a failing second call (403 registration disabled) is passed through", { timeout: 30_000 }, async () => {
  const { client } = server(
    () => HttpResponse.json({ session: "s", flows: [{ stages: ["m.login.dummy"] }] }, { status: 401 }),
    () => HttpResponse.json({ errcode: "M_FORBIDDEN", error: "Registration has been disabled" }, { status: 403 }),
  );
  await assert.rejects(registerWithDummyAuth(client, { username: "n", password: "p" }), (e: unknown) => e instanceof MatrixError && e.errcode === "M_FORBIDDEN");
});
