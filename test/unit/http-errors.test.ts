/**
 * Every error shape the wire can produce, mapped through HttpClient with catalogue endpoints:
 * rate limits, soft logout, too large, proxy pages, broken 200s, network errors, cancellation.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { http, HttpResponse } from "msw";
import { HttpClient } from "../../src/http/client.js";
import { AbortedError, HttpError, MatrixError, ResponseShapeError, TransportError } from "../../src/http/errors.js";
import { createRoom, getStateContent, putState, send, whoami } from "../../src/http/index.js";
import type { Clock, HttpRequest } from "../../src/http/types.js";
import { fakeClock, mswTransport } from "../helpers/msw-transport.js";

const HS = "http://127.0.0.1:8008";
const C3 = `${HS}/_matrix/client/v3`;
const PROXY_502 = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";
const stateArgs = { roomId: "!r:hs", eventType: "dev.opsdroid.database", stateKey: "k", content: { v: 1 } };

/** A handler answering with `answers` in turn (the last one repeats). */
function sequence(answers: Array<() => Response>) {
  let i = 0;
  return () => answers[Math.min(i++, answers.length - 1)]!();
}
const limited = (body: Record<string, unknown>, headers: Record<string, string> = {}) => () =>
  HttpResponse.json({ errcode: "M_LIMIT_EXCEEDED", error: "Too Many Requests", ...body }, { status: 429, headers });
const html502 = () => new HttpResponse(PROXY_502, { status: 502, headers: { "content-type": "text/html" } });
const ok = (body: unknown) => () => HttpResponse.json(body as never);

function clientWith(handler: Parameters<typeof http.put>[1], method: "put" | "get" | "post" = "put", clock: Clock = fakeClock()) {
  const transport = mswTransport([http[method](`${C3}/*`, handler)]);
  return { transport, client: new HttpClient({ baseUrl: HS, accessToken: "t", transport, clock }) };
}

test("429 on a state PUT with Retry-After waits that long, holding writes, then succeeds", { timeout: 30_000 }, async () => {
  const clock = fakeClock();
  const waits: number[] = [];
  const transport = mswTransport([http.put(`${C3}/*`, sequence([limited({ retry_after_ms: 100 }, { "retry-after": "3" }), ok({ event_id: "$e" })]))]);
  const client = new HttpClient({ baseUrl: HS, accessToken: "t", transport, clock, onRateLimited: (ms) => waits.push(ms) });
  assert.deepEqual(await client.send(putState, stateArgs), { event_id: "$e" });
  assert.equal(transport.requests.length, 2);
  assert.deepEqual(clock.sleeps, [3000]);
  assert.deepEqual(waits, [3000]);
});

test("429 with only retry_after_ms waits that long", { timeout: 30_000 }, async () => {
  const clock = fakeClock();
  const { client, transport } = clientWith(sequence([limited({ retry_after_ms: 1234 }), ok({ event_id: "$e" })]), "put", clock);
  await client.send(putState, stateArgs);
  assert.equal(transport.requests.length, 2);
  assert.deepEqual(clock.sleeps, [1234]);
});

test("429 with neither header nor field backs off exponentially with jitter", { timeout: 30_000 }, async (t) => {
  t.mock.method(Math, "random", () => 0.5);
  const clock = fakeClock();
  const { client, transport } = clientWith(sequence([limited({}), limited({}), ok({ event_id: "$e" })]), "put", clock);
  await client.send(putState, stateArgs);
  assert.equal(transport.requests.length, 3);
  // equal jitter: c/2 + 0.5 * c/2 with c = 250, then 500
  assert.deepEqual(clock.sleeps, [188, 375]);
});

test("429 that keeps coming is resent until the deadline, then the last 429 is thrown with the server's delay", { timeout: 30_000 }, async () => {
  const clock = fakeClock();
  const start = clock.now();
  const { client, transport } = clientWith(limited({ retry_after_ms: 1000 }), "get", clock);
  await assert.rejects(client.send(whoami, undefined, { retry: { deadlineMs: 10_000 } }), (e: unknown) => e instanceof MatrixError && e.status === 429 && e.errcode === "M_LIMIT_EXCEEDED" && e.retryAfterMs === 1000);
  // Sent at 0, 1 s, … 10 s: the 11th answer's delay would pass the deadline. No count of 429s stops it.
  assert.equal(transport.requests.length, 11);
  assert.equal(clock.now() - start, 10_000);
});

test("a 429 asking for longer than maxRateLimitWaitMs is reported, not waited out", { timeout: 30_000 }, async () => {
  const clock = fakeClock();
  const { client, transport } = clientWith(limited({}, { "retry-after": "3600" }), "put", clock);
  await assert.rejects(client.send(putState, stateArgs, { retry: { maxRateLimitWaitMs: 60_000 } }), (e: unknown) => e instanceof MatrixError && e.retryAfterMs === 3_600_000);
  assert.equal(transport.requests.length, 1);
  assert.deepEqual(clock.sleeps, []);
});

test("401 with soft_logout: true and without it", { timeout: 30_000 }, async () => {
  for (const [body, soft] of [[{ soft_logout: true }, true], [{}, false]] as const) {
    const { client, transport } = clientWith(() => HttpResponse.json({ errcode: "M_UNKNOWN_TOKEN", error: "Invalid access token passed.", ...body }, { status: 401 }), "get");
    await assert.rejects(client.send(whoami, undefined), (e: unknown) => e instanceof MatrixError && e.status === 401 && e.errcode === "M_UNKNOWN_TOKEN" && e.softLogout === soft);
    assert.equal(transport.requests.length, 1, "a 401 is not retried");
  }
});

test("413 M_TOO_LARGE on a state PUT is a MatrixError, sent once", { timeout: 30_000 }, async () => {
  const { client, transport } = clientWith(() => HttpResponse.json({ errcode: "M_TOO_LARGE", error: "event too large" }, { status: 413 }));
  await assert.rejects(client.send(putState, stateArgs), (e: unknown) => e instanceof MatrixError && e.status === 413 && e.errcode === "M_TOO_LARGE" && e.error === "event too large");
  assert.equal(transport.requests.length, 1);
});

test("a non-JSON 502 proxy page is an HttpError with the page text; an idempotent GET is retried", { timeout: 30_000 }, async () => {
  const clock = fakeClock();
  const { client, transport } = clientWith(sequence([html502, html502, ok({ k: "v" })]), "get", clock);
  assert.deepEqual(await client.send(getStateContent, { roomId: "!r:hs", eventType: "t", stateKey: "" }), { k: "v" });
  assert.equal(transport.requests.length, 3);
  assert.equal(clock.sleeps.length, 2);

  const once = clientWith(html502, "get");
  await assert.rejects(once.client.send(whoami, undefined, { retry: false }), (e: unknown) => e instanceof HttpError && e.status === 502 && e.bodyText === PROXY_502);
  assert.equal(once.transport.requests.length, 1);
});

test("a 502 on POST createRoom is not retried: the room may exist", { timeout: 30_000 }, async () => {
  const { client, transport } = clientWith(html502, "post");
  await assert.rejects(client.send(createRoom, { name: "x" }), (e: unknown) => e instanceof HttpError && e.status === 502 && e.bodyText.includes("nginx"));
  assert.equal(transport.requests.length, 1);
});

test("a send retried after a 502 reuses the same transaction ID and body", { timeout: 30_000 }, async () => {
  const { client, transport } = clientWith(sequence([html502, ok({ event_id: "$once" })]));
  const txnId = client.txnId();
  const res = await client.send(send, { roomId: "!r:hs", eventType: "dev.opsdroid.database", txnId, content: { k: "v" } });
  assert.equal(res.event_id, "$once");
  assert.equal(transport.requests.length, 2);
  const [a, b] = transport.requests as [HttpRequest, HttpRequest];
  assert.ok(a.url.endsWith(`/send/dev.opsdroid.database/${encodeURIComponent(txnId)}`));
  assert.equal(b.url, a.url);
  assert.deepEqual(b.body, a.body);
});

test("truncated JSON in a 200 is a ResponseShapeError carrying the raw text", { timeout: 30_000 }, async () => {
  const raw = '{"event_id":"$abc';
  const { client } = clientWith(() => new HttpResponse(raw, { status: 200, headers: { "content-type": "application/json" } }));
  await assert.rejects(client.send(putState, stateArgs), (e: unknown) => e instanceof ResponseShapeError && e.raw === raw && e.issues === undefined && /not JSON/.test(e.message));
});

test("a 200 of the wrong shape is a ResponseShapeError with the zod issues", { timeout: 30_000 }, async () => {
  const { client } = clientWith(ok({ event_id: 42, extra: true }));
  await assert.rejects(client.send(putState, stateArgs), (e: unknown) => {
    assert.ok(e instanceof ResponseShapeError);
    assert.equal(e.raw, '{"event_id":42,"extra":true}');
    assert.deepEqual(e.issues?.map((i) => [i.path, i.code]), [[["event_id"], "invalid_type"]]);
    // zod/mini has no locale: the message is built from the issue, not zod's "Invalid input".
    assert.match(e.message, /: event_id: expected string$/);
    return true;
  });
});

test("unknown response fields are kept (looseObject)", { timeout: 30_000 }, async () => {
  const { client } = clientWith(ok({ user_id: "@a:hs", device_id: "D", "org.example.new": { x: 1 } }), "get");
  const answer = await client.call(whoami, undefined);
  assert.deepEqual(answer.value, { user_id: "@a:hs", device_id: "D", "org.example.new": { x: 1 } });
  assert.equal(answer.raw, '{"user_id":"@a:hs","device_id":"D","org.example.new":{"x":1}}');
});

test("a network error is retried for an idempotent PUT and GET", { timeout: 30_000 }, async () => {
  for (const [ep, args] of [[putState, stateArgs], [whoami, undefined]] as const) {
    let calls = 0;
    const reply = ep === whoami ? { user_id: "@a:hs" } : { event_id: "$e" };
    const transport = async () => {
      if (++calls === 1) throw Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
      return { status: 200, headers: {}, body: new TextEncoder().encode(JSON.stringify(reply)) };
    };
    const clock = fakeClock();
    const client = new HttpClient({ baseUrl: HS, accessToken: "t", transport, clock });
    assert.deepEqual(await client.send(ep as typeof putState, args as typeof stateArgs), reply);
    assert.equal(calls, 2);
    assert.equal(clock.sleeps.length, 1);
  }
});

test("a network error on POST createRoom is not retried", { timeout: 30_000 }, async () => {
  let calls = 0;
  const transport = async () => {
    calls++;
    throw Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:8008"), { code: "ECONNREFUSED" });
  };
  const client = new HttpClient({ baseUrl: HS, accessToken: "t", transport, clock: fakeClock() });
  await assert.rejects(client.send(createRoom, {}), (e: unknown) => e instanceof TransportError && /ECONNREFUSED/.test(e.message) && e.method === "POST");
  assert.equal(calls, 1);
});

test("aborting the signal cancels a rate-limit wait: AbortedError, nothing sent again", { timeout: 30_000 }, async () => {
  // A clock whose sleep only ends by abort, so the test proves the wait is cancelled, not served.
  let sleeping!: () => void;
  const asleep = new Promise<void>((r) => (sleeping = r));
  const clock: Clock = {
    now: () => 0,
    sleep: (_ms, signal) =>
      new Promise<void>((_resolve, reject) => {
        sleeping();
        signal?.addEventListener("abort", () => reject(signal.reason), { once: true });
      }),
  };
  const { client, transport } = clientWith(limited({}, { "retry-after": "60" }), "put", clock);
  const controller = new AbortController();
  const pending = client.send(putState, stateArgs, { signal: controller.signal });
  await asleep;
  controller.abort(new Error("shutting down"));
  await assert.rejects(pending, (e: unknown) => e instanceof AbortedError && (e.cause as Error).message === "shutting down");
  assert.equal(transport.requests.length, 1);
});

test("an already aborted signal stops a retry back-off", { timeout: 30_000 }, async () => {
  const controller = new AbortController();
  let calls = 0;
  const transport = async () => {
    calls++;
    controller.abort();
    throw new Error("reset");
  };
  const client = new HttpClient({ baseUrl: HS, accessToken: "t", transport, clock: fakeClock() });
  await assert.rejects(client.send(whoami, undefined, { signal: controller.signal }), AbortedError);
  assert.equal(calls, 1);
});
