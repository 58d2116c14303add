/**
 * The portable core's runtime decisions (docs/RUNTIMES.md): which transport is the default where,
 * a refused transport failing at once (Deno without permission, a Workers object used by another
 * request), and a Memory whose I/O context is gone ending flush() and close() instead of hanging.
 * An in-process homeserver and a fake clock; no network.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Memory, TransportRefusedError, TransportError, RoomHandle } from "../../src/index.js";
import { HttpClient } from "../../src/http/client.js";
import { whoami } from "../../src/http/endpoints/account/whoami.js";
import { detectRuntime } from "../../src/http/runtime.js";
import { defaultTransport, fetchTransport, lazyTransport, refused } from "../../src/http/transport.js";
import type { Transport } from "../../src/http/types.js";
import { fakeRoomServer, ROOM } from "../helpers/fake-room-server.js";
import { fakeClock } from "../helpers/msw-transport.js";

const WORKERS_MESSAGE = "Cannot perform I/O on behalf of a different request. I/O objects (such as streams, request/response bodies, and others) created in the context of one request handler cannot be accessed from a different request's handler.";

function named(name: string, message: string): Error {
  const e = new Error(message);
  e.name = name;
  return e;
}

test("detectRuntime tells the runtimes apart from what each declares", { timeout: 10_000 }, () => {
  assert.equal(detectRuntime({ process: { versions: { node: "20.18.0" } } }), "node");
  assert.equal(detectRuntime({ process: { versions: { node: "24.3.0", bun: "1.4.5" } } }), "bun");
  assert.equal(detectRuntime({ Deno: {}, process: { versions: { node: "24.2.0" } } }), "deno");
  assert.equal(detectRuntime({ navigator: { userAgent: "Cloudflare-Workers" }, process: { versions: { node: "22.0.0" } } }), "workerd");
  assert.equal(detectRuntime({ navigator: { userAgent: "Mozilla/5.0" }, document: {} }), "browser");
  assert.equal(detectRuntime({}), "other");
  // This test runs on Node.
  assert.equal(detectRuntime(), "node");
});

test("a refusal the runtime will repeat is recognised; ordinary network failures are not", { timeout: 10_000 }, () => {
  assert.equal(refused(named("NotCapable", 'Requires net access to "127.0.0.1:8008", run again with the --allow-net flag')), true);
  assert.equal(refused(named("PermissionDenied", "Requires net access")), true);
  assert.equal(refused(new Error(WORKERS_MESSAGE)), true);
  assert.equal(refused(new TypeError("fetch failed")), false);
  assert.equal(refused(named("AbortError", "aborted")), false);
  assert.equal(refused("NotCapable"), false);
});

test("fetchTransport: a refused request fails at once with TransportRefusedError, never retried; a network error is retried", { timeout: 10_000 }, async () => {
  let calls = 0;
  const denied = fetchTransport(async () => {
    calls++;
    throw named("NotCapable", 'Requires net access to "127.0.0.1:8008"');
  });
  const clock = fakeClock();
  const client = new HttpClient({ baseUrl: "http://127.0.0.1:8008", accessToken: "secret", transport: denied, clock });
  await assert.rejects(client.send(whoami, undefined), (e: unknown) => e instanceof TransportRefusedError && e.code === "TRANSPORT_REFUSED" && /GET .*whoami/.test(e.message));
  assert.equal(calls, 1, "one attempt only");
  assert.deepEqual(clock.sleeps, [], "no backoff before failing");

  let flaky = 0;
  const down = fetchTransport(async () => {
    flaky++;
    throw new TypeError("fetch failed");
  });
  const client2 = new HttpClient({ baseUrl: "http://127.0.0.1:8008", accessToken: "secret", transport: down, clock: fakeClock(), retry: { deadlineMs: 10_000 } });
  await assert.rejects(client2.send(whoami, undefined), (e: unknown) => e instanceof TransportError);
  assert.ok(flaky > 1, `retried within the deadline (${flaky} attempts)`);
});

test("the default transport is chosen from the runtime: fetch off Node; on Node undici, loaded with the first request", { timeout: 30_000 }, async () => {
  const realFetch = globalThis.fetch;
  const fetched: string[] = [];
  globalThis.fetch = (async (url: string) => {
    fetched.push(url);
    return new Response("{}", { status: 200 });
  }) as typeof fetch;
  try {
    for (const runtime of ["bun", "deno", "workerd", "browser", "other"] as const) {
      const t = defaultTransport(runtime);
      const res = await t({ method: "GET", url: `http://127.0.0.1:1/${runtime}`, headers: {} });
      assert.equal(res.status, 200);
      await t.close();
    }
  } finally {
    globalThis.fetch = realFetch;
  }
  assert.deepEqual(fetched, ["bun", "deno", "workerd", "browser", "other"].map((r) => `http://127.0.0.1:1/${r}`), "the runtime's fetch, looked up when the request is sent");
  let made = 0;
  const inner: Transport = async () => ({ status: 200, headers: {}, body: new Uint8Array() });
  const lazy = lazyTransport(async () => {
    made++;
    return inner;
  });
  assert.equal(made, 0, "nothing is loaded before a request goes out");
  await lazy({ method: "GET", url: "http://127.0.0.1:1/", headers: {} });
  await lazy({ method: "GET", url: "http://127.0.0.1:1/", headers: {} });
  assert.equal(made, 1, "loaded once, by the first request");
  await lazy.close();
});

test("Workers: a Memory whose I/O context is gone refuses writes at once, and flush() and close() end", { timeout: 30_000 }, async () => {
  const server = fakeRoomServer();
  let gone = false;
  // What fetchTransport makes of workerd's refusal for an object of another request.
  const transport: Transport = async (req) => {
    if (gone) throw new TransportRefusedError(new Error(WORKERS_MESSAGE), req.method, req.url);
    return server.transport(req);
  };
  const errors: unknown[] = [];
  const db = await Memory.open({
    homeserver: "http://127.0.0.1:8008",
    accessToken: "secret-token",
    rooms: { main: ROOM },
    encryption: false,
    transport,
    clock: fakeClock(),
    timeoutMs: Infinity,
    syncDeadlineMarginMs: Infinity,
    onError: (e) => errors.push(e),
  });
  await db.put("before", { n: 1 });
  assert.deepEqual(await db.get("before"), { n: 1 });
  // The request that opened it has ended: every later request is refused.
  gone = true;
  server.write("dev.opsdroid.database", "", { before: { n: 1 }, other: true }); // wakes the long-poll, which is then refused
  const put = db.put("after", { n: 2 });
  await assert.rejects(put, (e: unknown) => e instanceof TransportRefusedError);
  await assert.rejects(db.flush(), (e: unknown) => e instanceof TransportRefusedError);
  // close() releases everything and ends; it may report the refused write it could not flush.
  await db.close().catch((e: unknown) => assert.ok(e instanceof TransportRefusedError, String(e)));
  await assert.rejects(db.get("before"), /closed/);
});

test("db.room(ref) gives a handle bound to that room; the memory's own calls stay on the default room", { timeout: 30_000 }, async () => {
  const server = fakeRoomServer();
  const db = await Memory.open({
    homeserver: "http://127.0.0.1:8008",
    accessToken: "secret-token",
    rooms: { main: "#elsewhere:hs", other: ROOM },
    defaultRoom: "other",
    encryption: false,
    transport: server.transport,
    clock: fakeClock(),
    timeoutMs: Infinity,
    syncDeadlineMarginMs: Infinity,
  });
  const room = db.room(ROOM);
  assert.ok(room instanceof RoomHandle);
  await room.put("k", { via: "handle" });
  assert.deepEqual(await db.get("k"), { via: "handle" }, "the same room as the default, by ID");
  assert.deepEqual(await room.keys(), ["k"]);
  assert.deepEqual(await room.dump(), { k: { via: "handle" } });
  assert.deepEqual(await room.delete("k"), { via: "handle" });
  assert.deepEqual(server.state.puts.map((p) => p.content), [{ k: { via: "handle" } }, {}]);
  await db.close();
  assert.throws(() => db.room(ROOM), /closed/);
});
