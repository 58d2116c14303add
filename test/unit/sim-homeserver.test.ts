/**
 * The simulated homeserver of test/sim/ behaves as docs/SIMULATION.md says (and Synapse does):
 * forks and their resolution, deduplication, the /sync cache and long-poll, the to-device fence,
 * restarts, unknown endpoints. Raw requests through its transport; no Memory.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import { NO_FAULTS, SimNetwork } from "../sim/network.js";
import { Prng } from "../sim/prng.js";
import { stateKeyOf } from "../sim/room-model.js";
import { Scheduler } from "../sim/scheduler.js";
import { SimServer } from "../sim/server.js";

const ROOM = "!r:sim";
const TYPE = "dev.opsdroid.database";
const enc = new TextEncoder();
const dec = new TextDecoder();

function setup(opts: { maxPersistMs?: number; syncCacheMs?: number; msc4222?: boolean } = {}) {
  const sched = new Scheduler();
  const hs = new SimServer(sched, new Prng(1), { maxPersistMs: opts.maxPersistMs ?? 0, syncCacheMs: opts.syncCacheMs ?? 120_000, msc4222: opts.msc4222 ?? false });
  hs.addAccount({ userId: "@a:sim", deviceId: "DA", accessToken: "ta" });
  hs.addAccount({ userId: "@b:sim", deviceId: "DB", accessToken: "tb" });
  hs.createRoom(ROOM, ["@a:sim", "@b:sim"]);
  const net = new SimNetwork(hs, new Prng(2), NO_FAULTS);
  /** Start a request now; its answer (status and JSON body) once the scheduler has run it. */
  const send = (token: string, method: "GET" | "PUT" | "POST", path: string, body?: unknown) =>
    net
      .transport(`client-${token}`)({ method, url: `http://hs.sim/_matrix/client/v3${path}`, headers: { authorization: `Bearer ${token}` }, ...(body === undefined ? {} : { body: enc.encode(JSON.stringify(body)) }) })
      .then((r) => ({ status: r.status, body: JSON.parse(dec.decode(r.body)) as Record<string, any>, at: sched.now }));
  /** Run the scheduler until all `promises` settle. */
  const settle = async <T>(promises: Promise<T>[]): Promise<T[]> => {
    let done = false;
    const all = Promise.allSettled(promises).then(() => (done = true));
    assert.equal(await sched.run(() => done, sched.now + 10 * 60_000), true, "the requests finished");
    await all;
    return Promise.all(promises);
  };
  const statePath = (key: string) => `/rooms/${encodeURIComponent(ROOM)}/state/${TYPE}/${key}`;
  return { sched, hs, send, settle, statePath, room: hs.rooms.get(ROOM)! };
}

test("concurrent state PUTs fork off one parent; the greatest (origin_server_ts, event_id) wins; unsigned names the parent", { timeout: 30_000 }, async () => {
  const { send, settle, statePath, room } = setup({ maxPersistMs: 500 });
  const parentBefore = room.forwardExtremities();
  const [a, b] = await settle([send("ta", "PUT", statePath(""), { x: "a" }), send("tb", "PUT", statePath(""), { x: "b" })]);
  const ea = room.events.get(a!.body.event_id)!;
  const eb = room.events.get(b!.body.event_id)!;
  assert.deepEqual(ea.prev_events, parentBefore);
  assert.deepEqual(eb.prev_events, parentBefore);
  assert.deepEqual(room.forwardExtremities(), [ea.event_id, eb.event_id].sort());
  const winner = [ea, eb].sort((p, q) => p.origin_server_ts - q.origin_server_ts || (p.event_id < q.event_id ? -1 : 1)).at(-1)!;
  assert.equal(room.current.get(stateKeyOf(TYPE, "")), winner.event_id);
  // A later event has both as parents, and its unsigned names the winner it replaced.
  const [c] = await settle([send("ta", "PUT", statePath(""), { x: "c" })]);
  const [got] = await settle([send("tb", "GET", `/rooms/${encodeURIComponent(ROOM)}/event/${encodeURIComponent(c!.body.event_id)}`)]);
  assert.equal(got!.body.unsigned.replaces_state, winner.event_id);
  assert.deepEqual(got!.body.unsigned.prev_content, winner.content);
  assert.deepEqual(room.events.get(c!.body.event_id)!.prev_events, [ea.event_id, eb.event_id].sort());
});

test("an event is stamped after its prev_events even within one simulated millisecond: an ancestor never beats its descendant", { timeout: 30_000 }, async () => {
  // Simulation seed 40483: with no delays, a put and the put built on a fork over it shared one
  // stamp, and the event ID tie-break let the older value win; Synapse stamps an event when it
  // builds it, after its parents were persisted.
  const { send, settle, statePath, room, sched } = setup();
  const start = sched.now;
  const [old] = await settle([send("ta", "PUT", statePath("k0"), { k0: 0 })]);
  const [a, b] = await settle([send("ta", "PUT", statePath("k0"), { k0: 1 }), send("tb", "PUT", statePath("k1"), { k1: 1 })]);
  const [c] = await settle([send("tb", "PUT", statePath("k1"), { k1: 2 })]);
  assert.equal(sched.now, start, "no simulated time passed");
  const [eo, ea, eb, ec] = [old, a, b, c].map((r) => room.events.get(r!.body.event_id)!);
  assert.deepEqual(ec!.prev_events, [ea!.event_id, eb!.event_id].sort());
  assert.deepEqual([eo!.origin_server_ts < ea!.origin_server_ts, Math.max(ea!.origin_server_ts, eb!.origin_server_ts) < ec!.origin_server_ts], [true, true]);
  // b's side still holds the old k0: the conflict with a's k0 resolves to a's, never to its ancestor.
  assert.equal(room.current.get(stateKeyOf(TYPE, "k0")), ea!.event_id);
});

test("a state PUT equal in sender and content to the current event is deduplicated; another sender's is not", { timeout: 30_000 }, async () => {
  const { send, settle, statePath, room } = setup();
  const [first] = await settle([send("ta", "PUT", statePath("k"), { v: 1 })]);
  const [again] = await settle([send("ta", "PUT", statePath("k"), { v: 1 })]);
  assert.equal(again!.body.event_id, first!.body.event_id);
  const [other] = await settle([send("tb", "PUT", statePath("k"), { v: 1 })]);
  assert.notEqual(other!.body.event_id, first!.body.event_id);
  const [asEvent] = await settle([send("ta", "GET", `${statePath("k")}?format=event`)]);
  assert.equal(asEvent!.body.event_id, other!.body.event_id);
  const [content] = await settle([send("ta", "GET", statePath("k"))]);
  assert.deepEqual(content!.body, { v: 1 });
  assert.equal(room.stream.filter((e) => e.type === TYPE).length, 2);
});

test("/sync: an identical request within the cache window gets the old reply; after it, a fresh one", { timeout: 30_000 }, async () => {
  const { send, settle, statePath, sched } = setup({ syncCacheMs: 120_000 });
  const [first] = await settle([send("ta", "GET", "/sync?timeout=0")]);
  await settle([send("tb", "PUT", statePath(""), { x: 1 })]);
  const [cached] = await settle([send("ta", "GET", "/sync?timeout=0")]);
  assert.deepEqual(cached!.body, first!.body);
  // Another device of the key (here: another user) is not served from it.
  const [fresh] = await settle([send("tb", "GET", "/sync?timeout=0")]);
  assert.notEqual(fresh!.body.next_batch, first!.body.next_batch);
  await settle([new Promise<void>((r) => sched.at(120_001, "test", r))]);
  const [after] = await settle([send("ta", "GET", "/sync?timeout=0")]);
  assert.equal(after!.body.next_batch, fresh!.body.next_batch);
});

test("/sync long-poll: answers when an event arrives or at the timeout; an empty answer is not cached", { timeout: 30_000 }, async () => {
  const { send, settle, statePath, sched } = setup();
  const [initial] = await settle([send("ta", "GET", "/sync?timeout=0")]);
  const since = initial!.body.next_batch as string;
  const t0 = sched.now;
  const [empty] = await settle([send("ta", "GET", `/sync?since=${since}&timeout=30000`)]);
  assert.equal(empty!.at - t0, 30_000);
  assert.equal(empty!.body.next_batch, since);
  const t1 = sched.now;
  const poll = send("ta", "GET", `/sync?since=${since}&timeout=30000`);
  sched.at(1000, "test", () => void send("tb", "PUT", statePath(""), { x: 2 }));
  const [woken] = await settle([poll]);
  assert.equal(woken!.at - t1, 1000);
  assert.deepEqual(
    woken!.body.rooms.join[ROOM].timeline.events.map((e: { content: unknown }) => e.content),
    [{ x: 2 }],
  );
});

test("to-device to our own device: in the next /sync, still there until a later since acknowledges it, then gone", { timeout: 30_000 }, async () => {
  const { send, settle } = setup();
  const [initial] = await settle([send("ta", "GET", "/sync?timeout=0")]);
  const s0 = initial!.body.next_batch as string;
  await settle([send("ta", "PUT", "/sendToDevice/m.fence/t1", { messages: { "@a:sim": { DA: { fence: 1 } } } })]);
  await settle([send("ta", "PUT", "/sendToDevice/m.fence/t1", { messages: { "@a:sim": { DA: { fence: 1 } } } })]); // a resend
  const [one] = await settle([send("ta", "GET", `/sync?since=${s0}&timeout=0`)]);
  assert.deepEqual(one!.body.to_device.events, [{ type: "m.fence", sender: "@a:sim", content: { fence: 1 } }]);
  const [other] = await settle([send("tb", "GET", `/sync?since=${s0}&timeout=0`)]);
  assert.deepEqual(other!.body.to_device.events, []);
  // Not acknowledged yet: asked again from s0 (another timeout, so not the cached reply), it is still there.
  const [again] = await settle([send("ta", "GET", `/sync?since=${s0}&timeout=1`)]);
  assert.deepEqual(again!.body.to_device.events, one!.body.to_device.events);
  const s1 = one!.body.next_batch as string;
  const [next] = await settle([send("ta", "GET", `/sync?since=${s1}&timeout=0`)]);
  assert.deepEqual(next!.body.to_device?.events ?? [], []);
});

test("a lost fork is in the timeline; state_after names the winner (MSC4222 on)", { timeout: 30_000 }, async () => {
  const { send, settle, statePath, room } = setup({ maxPersistMs: 500, msc4222: true });
  const [initial] = await settle([send("ta", "GET", "/sync?timeout=0")]);
  await settle([send("ta", "PUT", statePath(""), { x: "a" }), send("tb", "PUT", statePath(""), { x: "b" })]);
  const [res] = await settle([send("ta", "GET", `/sync?since=${initial!.body.next_batch}&timeout=0&org.matrix.msc4222.use_state_after=true`)]);
  const section = res!.body.rooms.join[ROOM];
  assert.equal(section.timeline.events.length, 2);
  const winner = room.current.get(stateKeyOf(TYPE, ""));
  assert.deepEqual(
    section["org.matrix.msc4222.state_after"].events.map((e: { event_id: string }) => e.event_id),
    [winner],
  );
});

test("a restart fails the PUT in flight (nothing persisted); unknown endpoints answer 404 M_UNRECOGNIZED and are recorded", { timeout: 30_000 }, async () => {
  const { send, settle, statePath, sched, hs, room } = setup({ maxPersistMs: 1000 });
  const before = room.stream.length;
  const put = send("ta", "PUT", statePath(""), { x: 1 }).then(
    () => "answered",
    (e: Error) => e.message,
  );
  sched.at(0, "test", () => hs.restart());
  const [outcome] = await settle([put]);
  assert.match(outcome!, /connection reset/);
  assert.equal(room.stream.length, before);
  const [unknown] = await settle([send("ta", "GET", "/rooms/!r:sim/joined_members")]);
  assert.deepEqual([unknown!.status, unknown!.body.errcode], [404, "M_UNRECOGNIZED"]);
  assert.deepEqual(hs.unrecognized, ["GET /_matrix/client/v3/rooms/!r:sim/joined_members"]);
});

test("GET filter returns what was posted (an identical filter keeps its ID); /messages pages backwards by type", { timeout: 30_000 }, async () => {
  const { send, settle, statePath } = setup();
  const [f1] = await settle([send("ta", "POST", "/user/@a:sim/filter", { room: { timeline: { limit: 5 } } })]);
  const [f2] = await settle([send("ta", "POST", "/user/@a:sim/filter", { room: { timeline: { limit: 5 } } })]);
  const [f3] = await settle([send("ta", "POST", "/user/@a:sim/filter", { room: { timeline: { limit: 6 } } })]);
  assert.deepEqual([f2!.body.filter_id, f3!.body.filter_id === f1!.body.filter_id], [f1!.body.filter_id, false]);
  const [got] = await settle([send("ta", "GET", `/user/@a:sim/filter/${f1!.body.filter_id}`)]);
  assert.deepEqual(got!.body, { room: { timeline: { limit: 5 } } });
  await settle([send("ta", "PUT", statePath("a"), { a: 1 })]);
  await settle([send("ta", "PUT", statePath("b"), { b: 2 })]);
  const filter = encodeURIComponent(JSON.stringify({ types: [TYPE] }));
  const [page] = await settle([send("ta", "GET", `/rooms/${encodeURIComponent(ROOM)}/messages?dir=b&limit=1&filter=${filter}`)]);
  assert.deepEqual(page!.body.chunk.map((e: { content: unknown }) => e.content), [{ b: 2 }]);
  const [next] = await settle([send("ta", "GET", `/rooms/${encodeURIComponent(ROOM)}/messages?dir=b&limit=1&from=${page!.body.end}&filter=${filter}`)]);
  assert.deepEqual(next!.body.chunk.map((e: { content: unknown }) => e.content), [{ a: 1 }]);
});

test("scheduler: sleeps fire in time order, a killed owner's timers never fire, real timers in a run are recorded", { timeout: 30_000 }, async () => {
  const sched = new Scheduler();
  const fired: string[] = [];
  const a = sched.clock("a");
  const b = sched.clock("b");
  void a.sleep(300).then(() => fired.push("a300"));
  void b.sleep(100).then(() => fired.push("b100"));
  void b.sleep(500).then(() => fired.push("b500"));
  void a.sleep(100).then(() => fired.push("a100"));
  sched.at(200, "test", () => sched.kill("b"));
  const restore = sched.install();
  try {
    const t = setTimeout(() => undefined, 0);
    clearTimeout(t);
    await sched.run(() => false, sched.now + 10_000);
  } finally {
    restore();
  }
  assert.deepEqual(fired, ["b100", "a100", "a300"]);
  assert.equal(sched.realTimers.length, 1);
  assert.match(sched.realTimers[0]!, /^setTimeout from /);
});

test("scheduler: a killed owner's abort listeners are removed when the run ends (Node keeps a composite signal with one alive)", { timeout: 30_000 }, async () => {
  const sched = new Scheduler();
  const outside = new AbortController();
  const kept = () => undefined;
  outside.signal.addEventListener("abort", kept);
  const restore = sched.install();
  const lifetime = new AbortController();
  const composite = AbortSignal.any([new AbortController().signal, lifetime.signal]);
  let during: number;
  try {
    // A sleep of a process killed before it fires: its listener is never removed by the sleep itself.
    void sched.clock("p").sleep(1000, composite).catch(() => undefined);
    sched.at(10, "test", () => sched.kill("p"));
    await sched.run(() => false, sched.now + 10_000);
    during = getEventListeners(composite, "abort").length;
  } finally {
    restore();
  }
  assert.equal(during, 1, "the killed sleep still listens while the run is in progress");
  assert.deepEqual(getEventListeners(composite, "abort"), []);
  assert.deepEqual(getEventListeners(outside.signal, "abort"), [kept], "a listener added before the run stays");
  assert.equal(AbortSignal.prototype.addEventListener, EventTarget.prototype.addEventListener, "the recording is uninstalled");
});

test("classic /sync state: empty for a linear timeline; after a fork, Synapse's (start ∪ end) − since − timeline", { timeout: 30_000 }, async () => {
  const { send, settle, statePath, room } = setup({ maxPersistMs: 500 });
  const [initial] = await settle([send("ta", "GET", "/sync?timeout=0")]);
  await settle([send("ta", "PUT", statePath("lin"), { n: 1 })]);
  const [linear] = await settle([send("ta", "GET", `/sync?since=${initial!.body.next_batch}&timeout=0`)]);
  assert.deepEqual(linear!.body.rooms.join[ROOM].state.events, []);
  const since = linear!.body.next_batch as string;
  await settle([send("ta", "PUT", statePath(""), { x: "a" }), send("tb", "PUT", statePath(""), { x: "b" })]);
  const [forked] = await settle([send("tb", "GET", `/sync?since=${since}&timeout=0`)]);
  const section = forked!.body.rooms.join[ROOM];
  const [first, second] = section.timeline.events.map((e: { event_id: string }) => e.event_id) as [string, string];
  assert.deepEqual(room.events.get(second)!.prev_events, room.events.get(first)!.prev_events, "the two forked");
  // start = state after the first event (its key -> first); end = after the last (-> second, in the timeline).
  assert.deepEqual(
    section.state.events.map((e: { event_id: string }) => e.event_id),
    [first],
  );
});
