/**
 * The cross-signing upload's user-interactive auth (src/db/cross-signing-setup.ts) against a simulated
 * homeserver: 401 with a session -> m.login.password with the configured password; no password, no
 * password flow, or a refused password -> CrossSigningAuthError with the server's errcode and flows.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { http, HttpResponse } from "msw";
import { HttpClient } from "../../src/http/client.js";
import { memoryTraceSink } from "../../src/http/trace.js";
import { CrossSigningSetup } from "../../src/db/cross-signing-setup.js";
import { CrossSigningAuthError } from "../../src/db/errors.js";
import { openClient } from "../helpers/crypto-clients.js";
import { fakeClock, mswTransport } from "../helpers/msw-transport.js";

const HS = "http://127.0.0.1:8008";
const C3 = `${HS}/_matrix/client/v3`;
const A = "@bot:hs";
const UIA = { session: "S1", flows: [{ stages: ["m.login.password"] }], params: {} };

/** A homeserver with no cross-signing keys for A, answering each device_signing/upload from `uploads` in turn. */
async function setup(password: string | undefined, uploads: Array<() => Response>) {
  const client = await openClient(A, "BOT1");
  let n = 0;
  const transport = mswTransport([
    http.post(`${C3}/keys/query`, () => HttpResponse.json({ device_keys: { [A]: {} }, master_keys: {}, self_signing_keys: {} })),
    http.post(`${C3}/keys/device_signing/upload`, () => uploads[n++]!()),
    http.post(`${C3}/keys/signatures/upload`, () => HttpResponse.json({ failures: {} })),
  ]);
  const trace = memoryTraceSink();
  const httpClient = new HttpClient({ baseUrl: HS, transport, clock: fakeClock(), accessToken: "tok", trace });
  const cs = new CrossSigningSetup(client.machine, httpClient, A, "BOT1", password);
  const bodies = () =>
    transport.requests.filter((r) => r.url.endsWith("/keys/device_signing/upload")).map((r) => {
      const { auth } = JSON.parse(new TextDecoder().decode(r.body)) as { auth?: unknown };
      return auth ?? null;
    });
  return { cs, bodies, client, transport, trace };
}

test("401 with a UIA session: the upload is retried with m.login.password, identifier m.id.user, in that session", { timeout: 30_000 }, async () => {
  const { cs, bodies, transport, trace, client } = await setup("pw-secret-9f3", [() => HttpResponse.json(UIA, { status: 401 }), () => HttpResponse.json({})]);
  const result = await cs.bootstrap();
  assert.equal(result.action, "created");
  assert.deepEqual(bodies(), [null, { type: "m.login.password", identifier: { type: "m.id.user", user: A }, password: "pw-secret-9f3", session: "S1" }]);
  // The trace has the exchange with the password redacted, and no private seed.
  const traced = JSON.stringify(trace.records);
  assert.ok(traced.includes("keys/device_signing/upload") && traced.includes('\\"password\\":\\"<redacted>\\"'), traced.slice(0, 300));
  assert.ok(!traced.includes("pw-secret-9f3"), "password in the trace");
  for (const seed of Object.values((await client.machine.crossSigning.secrets())!)) assert.ok(!traced.includes(seed), "a private seed in the trace");
  assert.deepEqual(
    transport.requests.map((r) => `${r.method} ${r.url.slice(C3.length)}`).filter((l) => !l.includes("query")),
    ["POST /keys/device_signing/upload", "POST /keys/device_signing/upload", "POST /keys/signatures/upload"],
  );
});

test("no password configured: CrossSigningAuthError naming what is needed, one upload tried, no signature sent", { timeout: 30_000 }, async () => {
  const { cs, bodies, transport } = await setup(undefined, [() => HttpResponse.json({ ...UIA, errcode: "M_FORBIDDEN", error: "auth needed" }, { status: 401 })]);
  const err = await cs.bootstrap().catch((e: unknown) => e);
  assert.ok(err instanceof CrossSigningAuthError);
  assert.deepEqual([err.code, err.errcode, err.flows], ["CROSS_SIGNING_AUTH", "M_FORBIDDEN", [["m.login.password"]]]);
  assert.match(err.message, /no password is configured: open with userId and password \(or set MXDB_PASSWORD/);
  assert.deepEqual(bodies(), [null]);
  assert.equal(transport.requests.some((r) => r.url.endsWith("/keys/signatures/upload")), false);
});

test("a refused password and a server without a password flow are CrossSigningAuthErrors with the server's errcode", { timeout: 30_000 }, async () => {
  const wrong = await setup("bad", [() => HttpResponse.json(UIA, { status: 401 }), () => HttpResponse.json({ ...UIA, errcode: "M_FORBIDDEN", error: "Invalid password" }, { status: 401 })]);
  const e1 = await wrong.cs.bootstrap().catch((e: unknown) => e);
  assert.ok(e1 instanceof CrossSigningAuthError);
  assert.deepEqual([e1.errcode, /refused the password/.test(e1.message)], ["M_FORBIDDEN", true]);
  const sso = await setup("pw", [() => HttpResponse.json({ session: "S", flows: [{ stages: ["m.login.sso"] }] }, { status: 401 })]);
  const e2 = await sso.cs.bootstrap().catch((e: unknown) => e);
  assert.ok(e2 instanceof CrossSigningAuthError);
  assert.deepEqual([e2.errcode, e2.flows, /no m\.login\.password flow/.test(e2.message)], [undefined, [["m.login.sso"]], true]);
  assert.equal(sso.bodies().length, 1);
});
