/**
 * Answers recorded from a real Synapse (fixtures/http, written by scripts/record-fixtures.ts) served
 * back through HttpClient: each endpoint builds the very request that was recorded, and its schema
 * accepts what Synapse really said, keeping every field.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { HttpClient } from "../../src/http/client.js";
import type { Endpoint } from "../../src/http/endpoint.js";
import { HttpError, MatrixError } from "../../src/http/errors.js";
import * as api from "../../src/http/index.js";
import type { HttpRequest } from "../../src/http/types.js";
import { fakeClock } from "../helpers/msw-transport.js";

const HS = "http://127.0.0.1:8008";
const DIR = join(import.meta.dirname, "..", "..", "fixtures", "http");

interface Fixture {
  recorded: boolean;
  endpoint: string;
  args: unknown;
  request: { method: string; path: string; body?: unknown };
  response: { status: number; headers: Record<string, string>; body?: unknown; bodyText?: string };
}

const catalogue = new Map(
  (Object.values(api) as unknown[])
    .filter((v): v is Endpoint<unknown, unknown> => typeof v === "object" && v !== null && "request" in v && "spec" in v)
    .map((ep) => [ep.name, ep]),
);

/** Undo the recorder's abbreviations: `<N bytes>` and `<N × c>`. */
function revive(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value), (_k, v: unknown) => {
    if (typeof v !== "string") return v;
    const bytes = /^<(\d+) bytes>$/.exec(v);
    if (bytes) return new Uint8Array(Number(bytes[1]));
    const long = /^<(\d+) × (.)>$/.exec(v);
    return long ? long[2]!.repeat(Number(long[1])) : v;
  });
}

const files = readdirSync(DIR, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".json")).sort();

test("the fixture set covers the endpoints mxdb needs, recorded from Synapse", { timeout: 30_000 }, () => {
  const fixtures = files.map((f) => JSON.parse(readFileSync(join(DIR, f), "utf8")) as Fixture);
  const names = new Set(fixtures.filter((f) => f.recorded).map((f) => f.endpoint));
  for (const ep of [api.login, api.register, api.whoami, api.createRoom, api.getStateContent, api.getStateEvent, api.putState, api.send, api.getEvent, api.redact, api.joinedMembers, api.resolveAlias, api.mediaConfig, api.uploadKeys, api.queryKeys, api.claimKeys])
    assert.ok(names.has(ep.name), `no recorded fixture for ${ep.name}`);
  const handWritten = fixtures.filter((f) => !f.recorded);
  assert.deepEqual(handWritten.map((f) => f.response.status), [502]);
  assert.ok(!JSON.stringify(fixtures).includes("syt_"), "no real access token in fixtures");
});

for (const file of files) {
  test(`fixture ${file}: same request, answer mapped through HttpClient`, { timeout: 30_000 }, async () => {
    const fx = JSON.parse(readFileSync(join(DIR, file), "utf8")) as Fixture;
    const ep = catalogue.get(fx.endpoint);
    assert.ok(ep, `unknown endpoint ${fx.endpoint}`);
    const sent: HttpRequest[] = [];
    const text = fx.response.bodyText ?? JSON.stringify(fx.response.body);
    const transport = async (req: HttpRequest) => {
      sent.push(req);
      return { status: fx.response.status, headers: fx.response.headers, body: new TextEncoder().encode(text) };
    };
    const client = new HttpClient({ baseUrl: HS, accessToken: "t", transport, clock: fakeClock() });
    const outcome = await client.call(ep, revive(fx.args), { retry: false }).then(
      (answer) => ({ answer }),
      (error: unknown) => ({ error }),
    );

    assert.equal(sent.length, 1);
    assert.equal(sent[0]!.method, fx.request.method);
    assert.equal(sent[0]!.url, HS + fx.request.path);
    if (fx.request.body !== undefined) assert.deepEqual(JSON.parse(new TextDecoder().decode(sent[0]!.body)), revive(fx.request.body));

    if (fx.response.status < 300) {
      assert.ok("answer" in outcome, `rejected: ${"error" in outcome ? String(outcome.error) : ""}`);
      assert.deepEqual(outcome.answer.value, fx.response.body, "every field kept");
      return;
    }
    assert.ok("error" in outcome);
    const body = fx.response.body as { errcode?: string } | undefined;
    if (body?.errcode !== undefined) {
      assert.ok(outcome.error instanceof MatrixError, String(outcome.error));
      assert.equal(outcome.error.status, fx.response.status);
      assert.equal(outcome.error.errcode, body.errcode);
    } else {
      assert.ok(outcome.error instanceof HttpError, String(outcome.error));
      assert.equal(outcome.error.bodyText, text);
    }
  });
}

function load(file: string): Fixture {
  return JSON.parse(readFileSync(join(DIR, file), "utf8")) as Fixture;
}

test("Synapse's real answers: state event with replaces_state, a redacted event, the UIA 401, a 413", { timeout: 30_000 }, () => {
  const stateEvent = api.stateEvent.parse(load("state/get-state-event.ok.json").response.body);
  assert.equal(typeof stateEvent.unsigned?.replaces_state, "string");
  assert.equal(stateEvent.state_key, "k/e#y?: \u00e9");

  const redacted = api.clientEvent.parse(load("events/get-event.redacted.json").response.body);
  assert.deepEqual(redacted.content, {});
  assert.equal(redacted.unsigned?.redacted_because?.type, "m.room.redaction");

  const uia = api.uiaFromError(new HttpError(401, JSON.stringify(load("account/register.dummy-401.json").response.body)));
  assert.ok(uia?.session);
  assert.ok(uia.flows.some((f) => f.stages.join() === "m.login.dummy"));

  assert.deepEqual(load("state/put-state.too-large.json").response.body, { errcode: "M_TOO_LARGE", error: "event too large" });
  assert.equal(load("state/get-state.not-found.json").response.status, 404);
});

test("the recorded 502 proxy page is retried for an idempotent send with the same txnId", { timeout: 30_000 }, async () => {
  const fx = load("events/send.proxy-502.json");
  const sent: HttpRequest[] = [];
  const transport = async (req: HttpRequest) => {
    sent.push(req);
    return sent.length === 1
      ? { status: 502, headers: fx.response.headers, body: new TextEncoder().encode(fx.response.bodyText) }
      : { status: 200, headers: { "content-type": "application/json" }, body: new TextEncoder().encode('{"event_id":"$e"}') };
  };
  const client = new HttpClient({ baseUrl: HS, accessToken: "t", transport, clock: fakeClock() });
  assert.deepEqual(await client.send(api.send, revive(fx.args) as api.SendArgs), { event_id: "$e" });
  assert.equal(sent.length, 2);
  assert.equal(sent[1]!.url, sent[0]!.url);
});
