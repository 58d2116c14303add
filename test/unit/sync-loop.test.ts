/**
 * The sync loop's logic with an msw transport and a fake clock: no real waiting, no network.
 * The server's answers are the /sync responses recorded from Synapse (fixtures/sync/).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { http, HttpResponse } from "msw";
import { HttpClient } from "../../src/http/client.js";
import type { SyncResponse } from "../../src/http/endpoints/sync/sync.js";
import { MatrixError } from "../../src/http/errors.js";
import type { HttpRequest, Transport } from "../../src/http/types.js";
import type { StateChange } from "../../src/state/types.js";
import { MemoryStore, type Store } from "../../src/store/store.js";
import { STORE_KEYS } from "../../src/sync/store-keys.js";
import { SyncLoop } from "../../src/sync/sync-loop.js";
import { fakeClock, mswTransport } from "../helpers/msw-transport.js";

const HS = "http://127.0.0.1:8008";
const DB = "dev.opsdroid.database";
interface Recording { userId: string; writer: string; roomId: string; steps: { name: string; responses: SyncResponse[] }[] }
const rec = JSON.parse(readFileSync(fileURLToPath(new URL("../../fixtures/sync/scenario.state_after.json", import.meta.url)), "utf8")) as Recording;
const responses = (...steps: string[]) => rec.steps.filter((s) => steps.includes(s.name)).flatMap((s) => s.responses);

type Answer = SyncResponse | { status: number; body: unknown; headers?: Record<string, string> };

/**
 * A fake homeserver: /sync answers from a queue; with the queue empty it holds the request like a
 * long-poll until the client aborts it. Every request is recorded; aborts are noted.
 */
function fakeServer(queue: Answer[], extra: Parameters<typeof mswTransport>[0] = []) {
  const state = { filterUploads: 0, joins: [] as string[], aborted: 0, pending: 0 };
  const inner = mswTransport([
    http.post(`${HS}/_matrix/client/v3/user/:userId/filter`, () => {
      state.filterUploads++;
      return HttpResponse.json({ filter_id: "f1" });
    }),
    http.post(`${HS}/_matrix/client/v3/join/:room`, ({ params }) => {
      state.joins.push(decodeURIComponent(String(params.room)));
      return HttpResponse.json({ room_id: params.room });
    }),
    ...extra,
    http.get(`${HS}/_matrix/client/v3/sync`, () => {
      const next = queue.shift()!;
      if ("next_batch" in next) return HttpResponse.json(next);
      return HttpResponse.json(next.body as Record<string, unknown>, { status: next.status, headers: next.headers ?? {} });
    }),
  ]);
  const syncs = () => inner.requests.filter((r) => r.url.includes("/sync"));
  const transport: Transport = (req: HttpRequest) => {
    if (req.url.includes("/sync?") && queue.length === 0) {
      state.pending++;
      inner.requests.push(req);
      return new Promise((_, reject) => {
        const abort = () => {
          state.aborted++;
          reject(req.signal!.reason);
        };
        if (req.signal?.aborted) abort();
        else req.signal?.addEventListener("abort", abort, { once: true });
      });
    }
    return inner(req);
  };
  return { transport, state, syncs, queue };
}

function makeLoop(server: ReturnType<typeof fakeServer>, store: Store = new MemoryStore(), extra: Partial<ConstructorParameters<typeof SyncLoop>[0]> = {}) {
  const clock = fakeClock();
  const errors: unknown[] = [];
  const httpClient = new HttpClient({ baseUrl: HS, accessToken: "secret-token", transport: server.transport, clock });
  // fakeClock sleeps return at once: a request deadline on it would fire before any answer.
  const loop = new SyncLoop({ http: httpClient, userId: rec.userId, store, clock, onError: (e) => errors.push(e), deadlineMarginMs: Infinity, ...extra });
  return { loop, clock, errors, store };
}

/** Wait (in real microtasks, no timers of ours) until the fake server holds a long-poll. */
async function untilLongPoll(server: ReturnType<typeof fakeServer>, count = 1): Promise<void> {
  for (let i = 0; i < 10_000 && server.state.pending < count; i++) await new Promise((r) => setImmediate(r));
  assert.ok(server.state.pending >= count, "the loop reached a long-poll");
}

test("initial sync: filter uploaded once, state_after asked for under the name /versions listed, picture and events delivered", { timeout: 30_000 }, async () => {
  // A server that lists MSC4222 (the recording's answers carry its unstable state_after).
  const server = fakeServer(responses("initial", "invite", "join", "put"), [http.get(`${HS}/_matrix/client/versions`, () => HttpResponse.json({ versions: ["v1.15"], unstable_features: { "org.matrix.msc4222": true } }))]);
  const { loop, store } = makeLoop(server, new MemoryStore(), { autoJoin: (_roomId, inviter) => inviter === rec.writer });
  const seen: string[] = [];
  loop.on("invite", (r) => seen.push(`invite ${r}`));
  loop.on("join", (r) => seen.push(`join ${r}`));
  const stream = loop.changes({ type: DB });
  loop.start();
  await loop.whenSynced();
  await untilLongPoll(server);
  const first = new URL(server.syncs()[0]!.url);
  assert.equal(first.searchParams.get("filter"), "f1");
  // No since: the server answers at once whatever the timeout; a random one makes the request
  // this process's own, so Synapse's reply cache cannot hand back another process's old picture.
  const timeout = Number(first.searchParams.get("timeout"));
  assert.ok(Number.isInteger(timeout) && timeout >= 1 && timeout < 30_000, `initial timeout ${timeout}`);
  assert.equal(first.searchParams.get("since"), null);
  assert.equal(first.searchParams.get("set_presence"), "offline");
  // /versions listed MSC4222: its parameter only (a server ignores a name it does not know, but we do not guess).
  assert.equal(loop.capabilities?.syncPath, "msc4222");
  assert.equal(first.searchParams.get("use_state_after"), null);
  assert.equal(first.searchParams.get("org.matrix.msc4222.use_state_after"), "true");
  const later = new URL(server.syncs()[1]!.url);
  assert.equal(later.searchParams.get("since"), rec.steps[0]!.responses.at(-1)!.next_batch);
  assert.equal(later.searchParams.get("timeout"), "30000");
  assert.equal(server.state.filterUploads, 1);
  assert.deepEqual(server.state.joins, [rec.roomId]); // autoJoin accepted the writer's invite
  assert.deepEqual(seen, [`invite ${rec.roomId}`, `join ${rec.roomId}`]);
  assert.deepEqual(loop.room(rec.roomId)!.get(DB, "k1")!.content, { v: 1 });
  const a = await stream.next();
  const b = await stream.next();
  assert.deepEqual([a.value?.stateKey, b.value?.stateKey], ["", "k1"]);
  // The token is saved with the state it carries.
  assert.equal(await store.get(STORE_KEYS.nextBatch), responses("put").at(-1)!.next_batch);
  assert.ok(await store.get(STORE_KEYS.room(rec.roomId)));
  await loop.stop();
  assert.equal(server.state.aborted, 1, "stop() aborted the long-poll");
  assert.deepEqual(await stream.next(), { value: undefined, done: true }, "streams end with the loop");
});

test("a restarted loop resumes from the stored token: no missed and no repeated change, no new filter", { timeout: 30_000 }, async () => {
  const store = new MemoryStore();
  const s1 = fakeServer(responses("initial", "invite", "join", "put"));
  const first = makeLoop(s1, store);
  const changes1: StateChange[] = [];
  first.loop.on("change", (c) => changes1.push(c));
  first.loop.start();
  await untilLongPoll(s1);
  await first.loop.stop();

  const s2 = fakeServer(responses("revert", "limited"));
  const second = makeLoop(s2, store);
  const changes2: StateChange[] = [];
  second.loop.on("change", (c) => changes2.push(c));
  second.loop.start();
  await untilLongPoll(s2);
  assert.equal(new URL(s2.syncs()[0]!.url).searchParams.get("since"), responses("put").at(-1)!.next_batch);
  assert.equal(new URL(s2.syncs()[0]!.url).searchParams.get("timeout"), "0", "catch up at once after a restart");
  assert.equal(new URL(s2.syncs().at(-1)!.url).searchParams.get("timeout"), "30000");
  assert.equal(s2.state.filterUploads, 0);
  const ids = [...changes1, ...changes2].filter((c) => c.type === DB).map((c) => c.event!.event_id);
  assert.equal(new Set(ids).size, ids.length, "no change delivered twice");
  assert.deepEqual(second.loop.room(rec.roomId)!.get(DB, "k2")!.content, { v: "overwritten in the gap" });
  assert.ok(changes2.some((c) => c.stateKey === "k1" && (c.event!.content as { v: number }).v === 1), "the revert arrived after the restart");
  await second.loop.stop();
});

test("errors back off exponentially with jitter, capped; 429 waits the server's delay; the picture is unaffected", { timeout: 30_000 }, async () => {
  const fail502 = { status: 502, body: "<html>bad gateway</html>" };
  const queue: Answer[] = [...Array.from({ length: 9 }, () => fail502), { status: 429, body: { errcode: "M_LIMIT_EXCEEDED", error: "slow", retry_after_ms: 1234 } }, ...responses("initial", "invite", "join")];
  const server = fakeServer(queue);
  const { loop, clock, errors } = makeLoop(server);
  loop.start();
  await loop.whenSynced();
  await untilLongPoll(server);
  await loop.stop();
  const sleeps = clock.sleeps;
  assert.equal(sleeps.length, 10);
  // Equal jitter: attempt i waits in [c/2, c], c = min(30 s, 500 ms * 2^i).
  sleeps.slice(0, 9).forEach((ms, i) => {
    const c = Math.min(30_000, 500 * 2 ** i);
    assert.ok(ms >= c / 2 && ms <= c, `attempt ${i}: ${ms} in [${c / 2}, ${c}]`);
  });
  assert.ok(sleeps[8]! <= 30_000 && sleeps[8]! >= 15_000, "capped at 30 s");
  assert.ok(sleeps[2]! > sleeps[0]! && sleeps[4]! > sleeps[2]!, "grows");
  assert.equal(sleeps[9], 1234, "429: the server's delay");
  assert.equal(errors.length, 10);
  assert.ok(loop.room(rec.roomId));
});

test("M_UNKNOWN_TOKEN with soft_logout ends the loop with a typed error instead of looping", { timeout: 30_000 }, async () => {
  const server = fakeServer([{ status: 401, body: { errcode: "M_UNKNOWN_TOKEN", error: "expired", soft_logout: true } }]);
  const { loop } = makeLoop(server);
  const stream = loop.changes();
  loop.start();
  await assert.rejects(loop.done, (e: unknown) => e instanceof MatrixError && e.errcode === "M_UNKNOWN_TOKEN" && e.softLogout === true);
  await assert.rejects(loop.whenSynced(), MatrixError);
  await assert.rejects(loop.nextSync(), MatrixError);
  assert.equal(server.syncs().length, 1, "no retry");
  assert.deepEqual(await stream.next(), { value: undefined, done: true });
  await loop.stop(); // stopping an ended loop is fine
});

test("stop() during a long-poll aborts it at once and resolves; nextSync waiters are released", { timeout: 30_000 }, async () => {
  const server = fakeServer(responses("initial"));
  const { loop } = makeLoop(server);
  loop.start();
  await loop.whenSynced();
  await untilLongPoll(server);
  const waiting = loop.nextSync();
  await loop.stop();
  await loop.done;
  await assert.rejects(waiting);
  assert.equal(server.state.aborted, 1);
  assert.equal(server.syncs().length, 2);
});

test("a failed Store write does not advance the token or the picture; the same batch is applied once on retry", { timeout: 30_000 }, async () => {
  const store = new MemoryStore();
  let failNext = false;
  const flaky: Store = Object.assign(Object.create(store) as Store, {
    setMany: async (e: Record<string, string | undefined>) => {
      if (failNext) {
        failNext = false;
        throw new Error("disk full");
      }
      return store.setMany(e);
    },
  });
  const put = responses("put");
  const server = fakeServer([...responses("initial", "invite", "join"), ...put, ...put]);
  const { loop, errors } = makeLoop(server, flaky);
  const changes: StateChange[] = [];
  loop.on("change", (c) => changes.push(c));
  loop.on("sync", (r) => {
    // Fail the write of the "put" batch the first time it is seen.
    if (r.next_batch === responses("join").at(-1)!.next_batch) failNext = true;
  });
  loop.start();
  await untilLongPoll(server);
  await loop.stop();
  assert.match(String(errors[0]), /disk full/);
  const sinces = server.syncs().map((r) => new URL(r.url).searchParams.get("since"));
  assert.equal(sinces.at(-2), sinces.at(-3), "the failed batch was asked for again from the same token");
  assert.deepEqual(changes.filter((c) => c.type === DB).map((c) => c.stateKey), ["", "k1"], "each change once");
  assert.equal(await store.get(STORE_KEYS.nextBatch), put.at(-1)!.next_batch);
});

test("stateAfter: 'never' sends no state_after parameter; leaving a room drops it and emits leave", { timeout: 30_000 }, async () => {
  const classic = JSON.parse(readFileSync(fileURLToPath(new URL("../../fixtures/sync/scenario.classic.json", import.meta.url)), "utf8")) as Recording;
  const server = fakeServer(classic.steps.flatMap((s) => s.responses));
  const { loop } = makeLoop(server, new MemoryStore(), { stateAfter: "never" });
  const left: string[] = [];
  loop.on("leave", (r) => left.push(r));
  loop.start();
  await untilLongPoll(server);
  await loop.stop();
  for (const r of server.syncs()) assert.equal(new URL(r.url).search.includes("state_after"), false);
  assert.deepEqual(left, [classic.roomId]);
  assert.equal(loop.rooms().size, 0);
});
