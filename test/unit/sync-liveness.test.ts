/**
 * The sync loop stays live: a malformed event is dropped and the rest applied (both state paths), a
 * persistent 4xx ends the loop, a hung /sync is aborted at its deadline, and a store whose token has
 * lost its snapshots is synced again from scratch instead of being served from the hole.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { HttpClient } from "../../src/http/client.js";
import type { SyncResponse } from "../../src/http/endpoints/sync/sync.js";
import { MatrixError } from "../../src/http/errors.js";
import type { Clock, HttpRequest, HttpResponse, Transport } from "../../src/http/types.js";
import { MemoryStore, StoreFormatError } from "../../src/store/store.js";
import { MalformedEventError, SyncTimeoutError } from "../../src/sync/errors.js";
import { STORE_KEYS } from "../../src/sync/store-keys.js";
import { SyncLoop, type SyncLoopOptions } from "../../src/sync/sync-loop.js";
import { manualClock } from "../helpers/manual-clock.js";
import { fakeClock } from "../helpers/msw-transport.js";

const HS = "http://127.0.0.1:8008";
const DB = "dev.opsdroid.database";
type Recording = { userId: string; roomId: string; steps: { name: string; responses: SyncResponse[] }[] };
const load = (name: string) => JSON.parse(readFileSync(fileURLToPath(new URL(`../../fixtures/sync/scenario.${name}.json`, import.meta.url)), "utf8")) as Recording;
const recs = { classic: load("classic"), state_after: load("state_after") };
const steps = (rec: Recording, ...names: string[]) => rec.steps.filter((s) => names.includes(s.name)).flatMap((s) => structuredClone(s.responses));

/** An answer: a /sync body, an error status, or "hang" (no answer until the request is aborted). */
type Answer = SyncResponse | { status: number; body: unknown } | "hang";
const json = (status: number, body: unknown): HttpResponse => ({ status, headers: { "content-type": "application/json" }, body: new TextEncoder().encode(JSON.stringify(body)) });

/**
 * The room's current state as the replies served so far built it, last event per key: what
 * `GET /rooms/{roomId}/state` answers after a classic reply with a gap (the recordings never fork).
 */
function currentState(served: SyncResponse[], roomId: string): unknown[] {
  const state = new Map<string, unknown>();
  for (const reply of served) {
    const section = reply.rooms?.join?.[roomId];
    for (const e of [...(section?.state?.events ?? []), ...(section?.timeline?.events ?? [])] as Array<{ type?: unknown; state_key?: unknown }>) {
      if (typeof e.state_key === "string" && typeof e.type === "string") state.set(JSON.stringify([e.type, e.state_key]), e);
    }
  }
  return [...state.values()];
}

function server(queue: Answer[], elsewhere: unknown[] = []) {
  const syncs: URL[] = [];
  const stateAsked: string[] = [];
  const served: SyncResponse[] = [];
  let hanging = 0;
  const transport: Transport = async (req: HttpRequest) => {
    if (req.url.includes("/filter")) return json(200, { filter_id: "f1" });
    const stateOf = /\/rooms\/([^/]+)\/state$/.exec(new URL(req.url).pathname);
    if (stateOf) {
      stateAsked.push(decodeURIComponent(stateOf[1]!));
      return json(200, [...currentState(served, decodeURIComponent(stateOf[1]!)), ...elsewhere]);
    }
    // A server that lists MSC4222: the recordings' state_after is under its unstable name.
    if (req.url.endsWith("/_matrix/client/versions")) return json(200, { versions: ["v1.15"], unstable_features: { "org.matrix.msc4222": true } });
    syncs.push(new URL(req.url));
    const next = queue.shift() ?? "hang";
    if (next !== "hang" && "next_batch" in next) served.push(next);
    if (next === "hang") {
      hanging++;
      return new Promise((_, reject) => {
        if (req.signal?.aborted) reject(req.signal.reason);
        req.signal?.addEventListener("abort", () => reject(req.signal!.reason), { once: true });
      });
    }
    return "next_batch" in next ? json(200, next) : json(next.status, next.body);
  };
  return { transport, syncs, stateAsked, hanging: () => hanging };
}

function loop(transport: Transport, clock: Clock, userId: string, extra: Partial<SyncLoopOptions> = {}) {
  const errors: unknown[] = [];
  const http = new HttpClient({ baseUrl: HS, accessToken: "secret-token", transport, clock });
  const l = new SyncLoop({ http, userId, store: new MemoryStore(), clock, onError: (e) => errors.push(e), deadlineMarginMs: Infinity, ...extra });
  return { loop: l, errors };
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 10_000 && !cond(); i++) await new Promise((r) => setImmediate(r));
  assert.ok(cond(), what);
}

for (const path of ["classic", "state_after"] as const) {
  test(`${path}: malformed events are dropped and reported; the rest of the reply is applied and the loop goes on`, { timeout: 60_000 }, async () => {
    const rec = recs[path];
    const replies = steps(rec, "initial", "invite", "join", "put");
    const put = replies.at(-1)!;
    const section = put.rooms!.join![rec.roomId]!;
    const good = section.timeline!.events!.find((e) => e.state_key === "k1")!;
    // Three bad events beside the good write of k1: a numeric type (the whole reply used to fail its
    // schema, so the loop retried the same since for ever), a string content, a string timestamp.
    const bad = [
      { ...good, type: 5, event_id: "$bad-type" },
      { ...good, state_key: "k2", content: "oops", event_id: "$bad-content" },
      { ...good, state_key: "k3", origin_server_ts: "yesterday", event_id: "$bad-ts" },
    ] as unknown as NonNullable<NonNullable<typeof section.timeline>["events"]>;
    section.timeline!.events!.push(...bad);
    const after = section["org.matrix.msc4222.state_after"] ?? section.state;
    after!.events!.push(...structuredClone(bad));
    const s = server(replies);
    const { loop: l, errors } = loop(s.transport, fakeClock(), rec.userId, path === "classic" ? { stateAfter: "never" } : {});
    l.start();
    await l.whenSynced();
    await until(() => s.hanging() === 1, "the loop reached the long-poll after the corrupted reply");
    assert.deepEqual(l.room(rec.roomId)!.get(DB, "k1")!.content, { v: 1 }, "the good event of the same reply is applied");
    assert.equal(l.room(rec.roomId)!.get(DB, "k2"), undefined);
    assert.equal(l.room(rec.roomId)!.get(DB, "k3"), undefined);
    assert.equal(s.syncs.at(-1)!.searchParams.get("since"), put.next_batch, "the next request continues after the corrupted reply");
    const dropped = errors.filter((e): e is MalformedEventError => e instanceof MalformedEventError);
    assert.deepEqual(dropped.map((e) => e.eventId).sort(), ["$bad-content", "$bad-content", "$bad-ts", "$bad-ts", "$bad-type", "$bad-type"]);
    assert.deepEqual(errors.filter((e) => !(e instanceof MalformedEventError)), [], "nothing else went wrong");
    await l.stop();
  });
}

test("classic: after a gap, state that neither block of the reply holds (stored on a concurrent branch) is taken from the room's state", { timeout: 60_000 }, async () => {
  const rec = recs.classic;
  const replies = steps(rec, "initial", "invite", "join");
  assert.equal(replies.at(-1)!.rooms!.join![rec.roomId]!.timeline!.limited, true, "the join reply has a gap");
  const branch = { type: DB, state_key: "branch", content: { v: "b" }, event_id: "$branch", sender: rec.userId, origin_server_ts: 1, room_id: rec.roomId, unsigned: {} };
  const s = server(replies, [branch]);
  const { loop: l, errors } = loop(s.transport, fakeClock(), rec.userId, { stateAfter: "never" });
  l.start();
  await l.whenSynced();
  await until(() => s.hanging() === 1, "the loop reached the long-poll");
  assert.deepEqual(s.stateAsked, [rec.roomId]);
  assert.deepEqual(l.room(rec.roomId)!.get(DB, "branch")?.content, { v: "b" });
  assert.deepEqual(errors, []);
  await l.stop();
});

test("a 4xx that keeps coming back ends the loop after 5 tries with the MatrixError; fewer are retried", { timeout: 60_000 }, async () => {
  const rec = recs.state_after;
  const forbidden = { status: 400, body: { errcode: "M_INVALID_PARAM", error: "bad filter" } };
  const healing = server([forbidden, forbidden, forbidden, forbidden, ...steps(rec, "initial")]);
  const ok = loop(healing.transport, fakeClock(), rec.userId);
  ok.loop.start();
  await ok.loop.whenSynced();
  assert.equal(ok.errors.length, 4);
  await ok.loop.stop();

  const broken = server([forbidden, forbidden, forbidden, forbidden, forbidden, ...steps(rec, "initial")]);
  const bad = loop(broken.transport, fakeClock(), rec.userId);
  bad.loop.start();
  await assert.rejects(bad.loop.whenSynced(), (e: unknown) => e instanceof MatrixError && e.errcode === "M_INVALID_PARAM");
  await assert.rejects(bad.loop.done, (e: unknown) => e instanceof MatrixError && e.status === 400);
  assert.equal(broken.syncs.length, 5, "five tries, then the loop ended");
  await assert.rejects(bad.loop.nextSync(), (e: unknown) => e instanceof MatrixError);
});

test("a hung /sync is aborted at timeout + margin on the Clock, reported as SyncTimeoutError, and retried", { timeout: 60_000 }, async () => {
  const rec = recs.state_after;
  const s = server(["hang", ...steps(rec, "initial", "invite", "join", "put"), "hang"]);
  const clock = manualClock();
  const { loop: l, errors } = loop(s.transport, clock, rec.userId, { deadlineMarginMs: 15_000, timeoutMs: 30_000 });
  l.start();
  await until(() => s.hanging() === 1, "the first request hangs");
  clock.advance(14_999);
  await new Promise((r) => setImmediate(r));
  assert.equal(errors.length, 0, "not before the deadline (timeout 0 + 15 s margin)");
  clock.advance(1);
  await until(() => errors.length === 1, "the deadline fired");
  assert.ok(errors[0] instanceof SyncTimeoutError && errors[0].deadlineMs === 15_000);
  clock.advance(1_000); // the back-off sleep
  await l.whenSynced();
  await until(() => s.hanging() === 2, "a long-poll is waiting");
  assert.deepEqual(l.room(rec.roomId)!.get(DB, "k1")!.content, { v: 1 });
  assert.equal(s.syncs.at(-1)!.searchParams.get("timeout"), "30000");
  assert.ok(clock.pending().includes(45_000), "the long-poll's deadline is its timeout plus the margin");
  await l.stop();
  assert.deepEqual(clock.pending(), [], "stop() cancels the deadline timer");
});

/** A store as a run left it: the token, the room list, and one room's snapshot. */
async function savedStore(): Promise<{ store: MemoryStore; roomKey: string; rec: Recording; token: string }> {
  const rec = recs.state_after;
  const store = new MemoryStore();
  const s = server(steps(rec, "initial", "invite", "join", "put"));
  const { loop: l } = loop(s.transport, fakeClock(), rec.userId, { store });
  l.start();
  await l.whenSynced();
  await until(() => s.hanging() === 1, "caught up");
  await l.stop();
  assert.deepEqual(JSON.parse((await store.get(STORE_KEYS.roomList))!), [rec.roomId], "the room list is saved with the token");
  return { store, roomKey: STORE_KEYS.room(rec.roomId), rec, token: (await store.get(STORE_KEYS.nextBatch))! };
}

for (const damage of ["snapshot deleted", "no room list (older store)"] as const) {
  test(`a token whose snapshot is missing (${damage}) is dropped: a full initial sync, no read from the hole`, { timeout: 60_000 }, async () => {
    const { store, roomKey, rec, token } = await savedStore();
    await store.delete(damage === "snapshot deleted" ? roomKey : STORE_KEYS.roomList);
    // The server answers an initial sync (no since) with the whole room, k1 included.
    const whole = structuredClone(steps(rec, "initial", "invite", "join", "put"));
    const s = server(whole);
    const { loop: l, errors } = loop(s.transport, fakeClock(), rec.userId, { store });
    l.start();
    await l.whenSynced();
    assert.equal(s.syncs[0]!.searchParams.get("since"), null, `the stored token ${token} was not used`);
    assert.ok(errors[0] instanceof StoreFormatError, "the gap is reported");
    await until(() => s.hanging() === 1, "caught up");
    assert.deepEqual(l.room(rec.roomId)!.get(DB, "k1")!.content, { v: 1 });
    assert.ok(await store.get(roomKey), "the snapshot is saved again");
    await l.stop();
  });
}

for (const [what, value] of [
  ["not JSON", "{not json"],
  ["the wrong shape", JSON.stringify({ version: 1, roomId: "!other:hs", events: [] })],
  ["an event of the wrong shape", JSON.stringify({ version: 1, roomId: recs.state_after.roomId, events: [{ type: 1 }] })],
] as const) {
  test(`a snapshot that is ${what} ends the loop at once with StoreFormatError naming the key; nothing is sent`, { timeout: 60_000 }, async () => {
    const { store, roomKey, rec } = await savedStore();
    await store.set(roomKey, value);
    const s = server([]);
    const { loop: l } = loop(s.transport, fakeClock(), rec.userId, { store });
    l.start();
    await assert.rejects(l.whenSynced(), (e: unknown) => e instanceof StoreFormatError && e.key === roomKey && !(e instanceof SyntaxError));
    assert.equal(s.syncs.length, 0);
  });
}
