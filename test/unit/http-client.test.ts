import { test } from "node:test";
import assert from "node:assert/strict";
import { http, HttpResponse } from "msw";
import { HttpClient } from "../../src/http/client.js";
import { whoami } from "../../src/http/endpoints/account/whoami.js";
import { putState } from "../../src/http/endpoints/state/put-state.js";
import { MatrixError } from "../../src/http/errors.js";
import { fakeClock, mswTransport } from "../helpers/msw-transport.js";

const HS = "http://127.0.0.1:8008";

test("a state PUT with an empty state key keeps the trailing slash and sends compact JSON", { timeout: 30_000 }, async () => {
  const transport = mswTransport([
    http.put(`${HS}/_matrix/client/v3/rooms/:roomId/state/:type/:stateKey?`, () => HttpResponse.json({ event_id: "$e" })),
  ]);
  const client = new HttpClient({ baseUrl: HS, accessToken: "secret", transport });
  const res = await client.send(putState, { roomId: "!r:hs", eventType: "dev.opsdroid.database", stateKey: "", content: { a: 1 } });
  assert.deepEqual(res, { event_id: "$e" });
  const req = transport.requests[0]!;
  assert.equal(req.url, `${HS}/_matrix/client/v3/rooms/!r%3Ahs/state/dev.opsdroid.database/`);
  assert.equal(req.headers.authorization, "Bearer secret");
  assert.equal(new TextDecoder().decode(req.body), '{"a":1}');
});

test("429 waits for Retry-After before sending again", { timeout: 30_000 }, async () => {
  let calls = 0;
  const transport = mswTransport([
    http.get(`${HS}/_matrix/client/v3/account/whoami`, () =>
      ++calls === 1
        ? HttpResponse.json({ errcode: "M_LIMIT_EXCEEDED", error: "slow down", retry_after_ms: 900 }, { status: 429, headers: { "retry-after": "2" } })
        : HttpResponse.json({ user_id: "@a:hs" }),
    ),
  ]);
  const clock = fakeClock();
  const client = new HttpClient({ baseUrl: HS, accessToken: "t", transport, clock });
  const res = await client.send(whoami, undefined);
  assert.equal(res.user_id, "@a:hs");
  assert.equal(calls, 2);
  assert.deepEqual(clock.sleeps, [2000]); // Retry-After (2 s) wins over retry_after_ms (900)
});

test("a 401 with soft_logout becomes a MatrixError that says so", { timeout: 30_000 }, async () => {
  const transport = mswTransport([
    http.get(`${HS}/_matrix/client/v3/account/whoami`, () =>
      HttpResponse.json({ errcode: "M_UNKNOWN_TOKEN", error: "expired", soft_logout: true }, { status: 401 }),
    ),
  ]);
  const client = new HttpClient({ baseUrl: HS, accessToken: "t", transport });
  await assert.rejects(client.send(whoami, undefined), (e: unknown) => e instanceof MatrixError && e.errcode === "M_UNKNOWN_TOKEN" && e.softLogout);
});
