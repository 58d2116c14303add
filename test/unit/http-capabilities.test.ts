/**
 * Capabilities, not assumptions: each GET /versions answer -> the sync path and media endpoints
 * mxdb uses, checked on the decision itself and on Memory.open over msw (what goes on the wire,
 * what `db.capabilities` says), and a server without spec v1.1 refused with a typed error.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { http, HttpResponse } from "msw";
import { Memory, UnsupportedHomeserverError, decideCapabilities, type ServerCapabilities } from "../../src/index.js";
import { HttpClient } from "../../src/http/client.js";
import { download } from "../../src/http/endpoints/media/download.js";
import { mediaConfig } from "../../src/http/endpoints/media/config.js";
import type { HttpRequest, Transport } from "../../src/http/types.js";
import { fakeRoomServer, ROOM, type FakeRoomServerOptions } from "../helpers/fake-room-server.js";
import { fakeClock, mswTransport, STOCK_VERSIONS } from "../helpers/msw-transport.js";

const HS = "http://127.0.0.1:8008";
const DB = "dev.opsdroid.database";
const upTo = (n: number) => Array.from({ length: n }, (_, i) => `v1.${i + 1}`);

/** One row per /versions answer: what it is, the body, the path and media endpoints expected. */
const ANSWERS: Array<{ name: string; body: { versions: string[]; unstable_features?: Record<string, boolean> }; path: ServerCapabilities["syncPath"]; media: ServerCapabilities["media"] }> = [
  { name: "spec v1.16 (stable use_state_after)", body: { versions: upTo(16) }, path: "state_after", media: "authenticated" },
  { name: "spec v1.19 and MSC4222 too: the stable name wins", body: { versions: upTo(19), unstable_features: { "org.matrix.msc4222": true } }, path: "state_after", media: "authenticated" },
  { name: "v1.15 with org.matrix.msc4222", body: { versions: upTo(15), unstable_features: { "org.matrix.msc4222": true } }, path: "msc4222", media: "authenticated" },
  { name: "v1.15 with org.matrix.msc4222.use_state_after", body: { versions: upTo(15), unstable_features: { "org.matrix.msc4222.use_state_after": true } }, path: "msc4222", media: "authenticated" },
  { name: "v1.15 with MSC4222 listed but false", body: { versions: upTo(15), unstable_features: { "org.matrix.msc4222": false } }, path: "classic", media: "authenticated" },
  { name: "a stock Synapse 1.163 (v1.15, no MSC4222)", body: STOCK_VERSIONS, path: "classic", media: "authenticated" },
  { name: "v1.10 and r0 versions, no unstable_features", body: { versions: ["r0.6.1", ...upTo(10)] }, path: "classic", media: "legacy" },
  { name: "only v1.1", body: { versions: ["v1.1"] }, path: "classic", media: "legacy" },
  { name: "v2.0 (a later major)", body: { versions: ["v2.0"] }, path: "state_after", media: "authenticated" },
];

test("decideCapabilities: each /versions answer -> the sync path and media endpoints", { timeout: 10_000 }, () => {
  for (const a of ANSWERS) {
    const caps = decideCapabilities(a.body);
    assert.deepEqual([caps.syncPath, caps.media, caps.syncPathForced], [a.path, a.media, false], a.name);
    assert.deepEqual(caps.versions, a.body.versions, a.name);
  }
  assert.deepEqual(decideCapabilities({ versions: ["v1.15"], unstable_features: { b: true, a: true, c: false } }).unstableFeatures, ["a", "b"]);
});

test("the stateAfter option forces a path whatever /versions says", { timeout: 10_000 }, () => {
  const stock = STOCK_VERSIONS;
  const v16 = { versions: upTo(16) };
  assert.deepEqual(
    (["never", "stable", "unstable"] as const).map((o) => [decideCapabilities(stock, o).syncPath, decideCapabilities(v16, o).syncPath, decideCapabilities(v16, o).syncPathForced]),
    [
      ["classic", "classic", true],
      ["state_after", "state_after", true],
      ["msc4222", "msc4222", true],
    ],
  );
});

test("a server without spec v1.1 (r0 only, or nothing) gets UnsupportedHomeserverError naming what is missing", { timeout: 10_000 }, () => {
  for (const versions of [["r0.5.0", "r0.6.1"], [], ["v0.9", "unknown"]]) {
    assert.throws(
      () => decideCapabilities({ versions }),
      (e: unknown) => e instanceof UnsupportedHomeserverError && e.code === "UNSUPPORTED_HOMESERVER" && e.missing.includes("v1.1") && e.versions.join() === versions.join(),
    );
  }
});

/** Memory.open against the fake room server, /versions answered with `body`; every request recorded. */
async function openWith(body: unknown, server = fakeRoomServer(), extra: Partial<Parameters<typeof Memory.open>[0]> = {}) {
  const seen: HttpRequest[] = [];
  const transport: Transport = async (req) => {
    seen.push(req);
    if (new URL(req.url).pathname === "/_matrix/client/versions") return { status: 200, headers: { "content-type": "application/json" }, body: new TextEncoder().encode(JSON.stringify(body)) };
    return server.transport(req);
  };
  const open = Memory.open({ homeserver: HS, accessToken: "t", rooms: { main: ROOM }, encryption: false, transport, clock: fakeClock(), timeoutMs: Infinity, syncDeadlineMarginMs: Infinity, ...extra });
  return { open, seen, server };
}

const stateAfterParams = (seen: HttpRequest[]) =>
  [...new Set(seen.filter((r) => new URL(r.url).pathname.endsWith("/sync")).flatMap((r) => [...new URL(r.url).searchParams.keys()].filter((k) => k.includes("state_after"))))];

test("Memory.open asks /versions once, first, and each answer's path is what goes on the wire and reads right", { timeout: 60_000 }, async () => {
  const rows: Array<{ name: string; body: unknown; path: string; param: string[]; server: FakeRoomServerOptions }> = [
    { name: "v1.16", body: { versions: upTo(16) }, path: "state_after", param: ["use_state_after"], server: { stateAfter: "use_state_after" } },
    { name: "MSC4222", body: { versions: upTo(15), unstable_features: { "org.matrix.msc4222": true } }, path: "msc4222", param: ["org.matrix.msc4222.use_state_after"], server: { stateAfter: "org.matrix.msc4222.use_state_after" } },
    { name: "stock Synapse", body: STOCK_VERSIONS, path: "classic", param: [], server: {} },
  ];
  for (const row of rows) {
    const { open, seen } = await openWith(row.body, fakeRoomServer(row.server));
    const db = await open;
    assert.equal(new URL(seen[0]!.url).pathname, "/_matrix/client/versions", `${row.name}: asked first`);
    await db.put("k", { path: row.path });
    assert.deepEqual(await db.get("k"), { path: row.path }, row.name);
    assert.equal(db.capabilities.syncPath, row.path, row.name);
    assert.deepEqual(stateAfterParams(seen), row.param, `${row.name}: /sync parameters`);
    assert.deepEqual(seen.filter((r) => r.url.endsWith("/_matrix/client/versions")).length, 1, `${row.name}: /versions once`);
    await db.close();
  }
});

test("the state_after path reads another writer's change from state_after, the classic path from the timeline", { timeout: 60_000 }, async () => {
  for (const [body, opts] of [
    [{ versions: upTo(16) }, { stateAfter: "use_state_after" }],
    [STOCK_VERSIONS, {}],
  ] as const) {
    const server = fakeRoomServer(opts);
    const { open } = await openWith(body, server);
    const db = await open;
    const changed = (async () => {
      for await (const c of db.watch()) if (c.key === "remote") return c.value;
      return undefined;
    })();
    // Another client's write, straight into the fake server (the single state key "" holds the dictionary).
    await server.transport({ method: "PUT", url: `${HS}/_matrix/client/v3/rooms/${encodeURIComponent(ROOM)}/state/${DB}/`, headers: { "content-type": "application/json" }, body: new TextEncoder().encode(JSON.stringify({ remote: "yes" })) });
    assert.equal(await changed, "yes");
    assert.equal(await db.get("remote"), "yes");
    await db.close();
  }
});

test("a homeserver without spec v1.1: Memory.open fails with UnsupportedHomeserverError before any other request", { timeout: 30_000 }, async () => {
  const { open, seen } = await openWith({ versions: ["r0.6.1"] });
  await assert.rejects(open, (e: unknown) => e instanceof UnsupportedHomeserverError && e.versions.join() === "r0.6.1");
  assert.deepEqual(seen.map((r) => new URL(r.url).pathname), ["/_matrix/client/versions"]);
});

test("an unknown stateAfter value is a ConfigError before anything is sent", { timeout: 10_000 }, async () => {
  const { open, seen } = await openWith(STOCK_VERSIONS, undefined, { stateAfter: "sometimes" as never });
  await assert.rejects(open, { name: "ConfigError" });
  assert.deepEqual(seen, []);
});

test("media endpoints: authenticated /_matrix/client/v1/media from v1.11, the legacy /_matrix/media/v3 before", { timeout: 10_000 }, async () => {
  const transport = mswTransport([
    http.get(`${HS}/_matrix/client/v1/media/config`, () => HttpResponse.json({ "m.upload.size": 1 })),
    http.get(`${HS}/_matrix/media/v3/config`, () => HttpResponse.json({ "m.upload.size": 2 })),
    http.get(`${HS}/_matrix/client/v1/media/download/:server/:id`, () => new HttpResponse(new Uint8Array([1]))),
    http.get(`${HS}/_matrix/media/v3/download/:server/:id`, () => new HttpResponse(new Uint8Array([2]))),
  ]);
  const client = new HttpClient({ baseUrl: HS, accessToken: "t", transport });
  assert.deepEqual(await client.send(mediaConfig, { legacy: false }), { "m.upload.size": 1 });
  assert.deepEqual(await client.send(mediaConfig, { legacy: true }), { "m.upload.size": 2 });
  assert.deepEqual([...(await client.send(download, { serverName: "hs", mediaId: "m" }))], [1]);
  assert.deepEqual([...(await client.send(download, { serverName: "hs", mediaId: "m", legacy: true }))], [2]);
  assert.deepEqual(
    transport.requests.map((r) => new URL(r.url).pathname),
    ["/_matrix/client/v1/media/config", "/_matrix/media/v3/config", "/_matrix/client/v1/media/download/hs/m", "/_matrix/media/v3/download/hs/m"],
  );
  await client.close();
});
