/**
 * HttpClient's rate gate (src/http/rate-gate.ts) against a simulated Synapse limiter on virtual
 * time: everything lands exactly once, a 429 holds every request for the server's delay, then they
 * go one at a time; a proxy's plain-text 429 is backpressure; retries end at a deadline, not a count;
 * a homeserver that is away for 25 s loses nothing.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { HttpClient } from "../../src/http/client.js";
import { HttpError, MatrixError, TransportError } from "../../src/http/errors.js";
import { createRoom, putState, send, sendToDevice } from "../../src/http/index.js";
import { sync } from "../../src/http/endpoints/sync/sync.js";
import { simulatedServer, type Exchange } from "../helpers/simulated-ratelimit-server.js";
import { virtualClock } from "../helpers/virtual-clock.js";

const HS = "http://127.0.0.1:8008";
const ROOM = "!r:hs";
const stateBody = (n: number) => JSON.stringify({ n });

function setup(options: Parameters<typeof simulatedServer>[1] = {}, retry: { deadlineMs?: number } = {}) {
  const clock = virtualClock();
  const server = simulatedServer(clock, options);
  const client = new HttpClient({ baseUrl: HS, accessToken: "t", transport: server.transport, clock, retry });
  const put = (n: number) => client.send(putState, { roomId: ROOM, eventType: "dev.opsdroid.database", stateKey: `k${n}`, content: { n } });
  return { clock, server, client, put };
}

/** Checks "held, then one at a time": no request arrives within a 429's delay, and the first one after it is alone until answered. */
function pacingViolations(exchanges: readonly Exchange[]): string[] {
  const bad: string[] = [];
  for (const limited of exchanges.filter((e) => e.status === 429)) {
    const from = limited.answeredAt!;
    const until = from + limited.retryAfterMs!;
    const inside = exchanges.filter((e) => e.arrivedAt >= from && e.arrivedAt < until);
    if (inside.length > 0) bad.push(`${inside.length} sent within the delay after the 429 answered at ${from}`);
  }
  const ends = [...new Set(exchanges.filter((e) => e.status === 429).map((e) => e.answeredAt! + e.retryAfterMs!))];
  for (const end of ends) {
    const first = exchanges.filter((e) => e.arrivedAt >= end).sort((a, b) => a.arrivedAt - b.arrivedAt)[0];
    if (!first) continue;
    const alongside = exchanges.filter((e) => e !== first && e.arrivedAt >= first.arrivedAt && e.arrivedAt < first.answeredAt!);
    if (alongside.length > 0) bad.push(`${alongside.length} released with the first request after the delay ending at ${end}`);
  }
  return bad;
}

test("30 concurrent state PUTs under Synapse's limiter (0.2/s, burst 10) all land exactly once, paced after each 429", { timeout: 60_000 }, async (t) => {
  const { clock, server, put } = setup();
  const ids = Array.from({ length: 30 }, (_, n) => n);
  const results = await clock.run(Promise.all(ids.map(put)));
  assert.equal(new Set(results.map((r) => r.event_id)).size, 30);
  assert.deepEqual([...server.accepted].sort(), ids.map(stateBody).sort(), "the server accepted each body exactly once");
  assert.deepEqual(pacingViolations(server.exchanges), []);
  const elapsed = clock.now() - clock.start;
  const minimum = ((30 - 10) / 0.2) * 1000;
  const refused = server.exchanges.filter((e) => e.status === 429).length;
  t.diagnostic(`30/30 landed in ${elapsed / 1000} s of virtual time; the limit's minimum is ${minimum / 1000} s (ratio ${(elapsed / minimum).toFixed(2)}); ${refused} answers were 429`);
});

test("Retry-After beats retry_after_ms, and holds every request of the client, not only the refused one", { timeout: 60_000 }, async () => {
  const { clock, server, put } = setup({
    burst: 1,
    rateHz: 10,
    limitedAnswer: () => ({ status: 429, headers: { "retry-after": "3", "content-type": "application/json" }, body: new TextEncoder().encode('{"errcode":"M_LIMIT_EXCEEDED","error":"slow down","retry_after_ms":100}') }),
  });
  await clock.run(Promise.all([put(0), put(1), put(2)]));
  assert.deepEqual([...server.accepted].sort(), [0, 1, 2].map(stateBody));
  const firstLimit = server.exchanges.find((e) => e.status === 429)!;
  const after = server.exchanges.filter((e) => e.arrivedAt > firstLimit.arrivedAt);
  // Nothing is sent again until 3 s after the 429 (not 100 ms).
  assert.ok(after.length > 0, "sent again after the 429");
  assert.ok(after.every((e) => e.arrivedAt >= firstLimit.answeredAt! + 3000), JSON.stringify(after.map((e) => e.arrivedAt - firstLimit.answeredAt!)));
});

test("a proxy's plain-text 429 is backpressure: waited out (Retry-After, else back-off) and resent", { timeout: 60_000 }, async (t) => {
  t.mock.method(Math, "random", () => 0.5); // back-off jitter, fixed
  for (const headers of [{ "retry-after": "2" }, {}] as Array<Record<string, string>>) {
    let refusals = 2;
    const clock = virtualClock();
    const inner = simulatedServer(clock, { rateHz: 1000, burst: 1000 });
    const proxy = async (req: Parameters<typeof inner.transport>[0]) => {
      if (refusals-- > 0) return { status: 429, headers: { "content-type": "text/html", ...headers }, body: new TextEncoder().encode("<html><body><h1>429 Too Many Requests</h1></body></html>") };
      return inner.transport(req);
    };
    const client = new HttpClient({ baseUrl: HS, accessToken: "t", transport: proxy, clock });
    const res = await clock.run(client.send(putState, { roomId: ROOM, eventType: "dev.opsdroid.database", stateKey: "k", content: { n: 1 } }));
    assert.equal(res.event_id, "$1");
    assert.deepEqual(inner.accepted, [stateBody(1)]);
    if (headers["retry-after"]) assert.equal(clock.now() - clock.start, 4000 + 20, "two waits of Retry-After: 2, then the answer's latency");
  }
});

test("a limit that never lifts: each request gives up at its deadline with the typed 429, whatever the count", { timeout: 60_000 }, async () => {
  const { clock, server, put } = setup({ burst: 1, rateHz: 0.001 }, { deadlineMs: 120_000 });
  const outcomes = await clock.run(Promise.allSettled([put(0), put(1), put(2)]));
  assert.equal(outcomes[0]!.status, "fulfilled");
  for (const o of outcomes.slice(1)) {
    assert.equal(o.status, "rejected");
    const e = (o as PromiseRejectedResult).reason;
    assert.ok(e instanceof MatrixError && e.status === 429 && e.errcode === "M_LIMIT_EXCEEDED", `not the 429: ${String(e)}`);
  }
  // The server asked for ~1000 s: more than the budget, so nobody waited it out.
  assert.ok(clock.now() - clock.start <= 120_000, "within the budget");
  assert.deepEqual(server.accepted, [stateBody(0)]);
});

test("a homeserver away for 25 s (connections refused, then 503) loses none of 50 queued writes", { timeout: 60_000 }, async (t) => {
  t.mock.method(Math, "random", () => 0.5); // back-off jitter, fixed
  const clock = virtualClock();
  const outage = (now: number) => (now - clock.start < 15_000 ? "refused" : now - clock.start < 25_000 ? 503 : "up") as "up" | "refused" | 503;
  const server = simulatedServer(clock, { rateHz: 1000, burst: 1000, outage });
  const client = new HttpClient({ baseUrl: HS, accessToken: "t", transport: server.transport, clock });
  const writes: Array<Promise<unknown>> = [];
  const expected: string[] = [];
  for (let n = 0; n < 50; n++) {
    const content = { n };
    expected.push(JSON.stringify(n % 5 === 4 ? { messages: { "@u:hs": { D: content } } } : content));
    if (n % 5 === 3) writes.push(client.send(send, { roomId: ROOM, eventType: "dev.mxdb.t", txnId: client.txnId(), content }));
    else if (n % 5 === 4) writes.push(client.send(sendToDevice, { eventType: "dev.mxdb.t", txnId: client.txnId(), messages: { "@u:hs": { D: content } } }));
    else writes.push(client.send(putState, { roomId: ROOM, eventType: "dev.opsdroid.database", stateKey: `k${n}`, content }));
  }
  // Not idempotent: a createRoom that got no answer may exist, so it is not resent.
  const room = client.send(createRoom, { name: "x" });
  const [outcomes, roomOutcome] = await clock.run(Promise.all([Promise.allSettled(writes), Promise.allSettled([room])]));
  assert.deepEqual(outcomes.filter((o) => o.status === "rejected"), []);
  assert.deepEqual([...server.accepted].sort(), expected.sort());
  assert.ok(roomOutcome[0]!.status === "rejected" && roomOutcome[0].reason instanceof TransportError, "createRoom fails with the TransportError");
  assert.equal(server.exchanges.filter((e) => e.path.endsWith("/createRoom")).length, 1);
  const tries = server.exchanges.filter((e) => e.method === "PUT").length;
  t.diagnostic(`50/50 landed, last at +${(clock.now() - clock.start) / 1000} s; ${tries} sends in all (back-off capped at 5 s)`);
});

test("a 503 past the deadline is thrown as the HttpError it was", { timeout: 60_000 }, async () => {
  const clock = virtualClock();
  const server = simulatedServer(clock, { outage: () => 503 });
  const client = new HttpClient({ baseUrl: HS, accessToken: "t", transport: server.transport, clock, retry: { deadlineMs: 30_000 } });
  const outcome = await clock.run(Promise.allSettled([client.send(putState, { roomId: ROOM, eventType: "e", stateKey: "", content: {} })]));
  assert.ok(outcome[0]!.status === "rejected" && outcome[0].reason instanceof HttpError && outcome[0].reason.status === 503, "the 503 itself");
  // The last try goes out at the deadline; its answer (20 ms) is the end.
  assert.equal(clock.now() - clock.start, 30_000 + 20);
});

test("a /sync long-poll in flight does not hold the paced slot: writes go on beside it", { timeout: 60_000 }, async () => {
  const { clock, server, client, put } = setup({ syncHoldMs: 600_000 });
  const poll = client.send(sync, { timeout: 600_000 }, { retry: false });
  const ids = Array.from({ length: 14 }, (_, n) => n);
  await clock.run(Promise.all(ids.map(put)));
  assert.deepEqual([...server.accepted].sort(), ids.map(stateBody).sort());
  // 4 writes after the burst at 0.2/s: about 20 s, far less than the 600 s the poll is held.
  assert.ok(clock.now() - clock.start < 60_000, `took ${clock.now() - clock.start} ms`);
  await clock.run(poll);
});
