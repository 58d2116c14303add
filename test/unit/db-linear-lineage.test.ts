/**
 * A homeserver whose `replaces_state` cannot show forks (Dendrite 0.13.8; src/db/linear-lineage.ts,
 * docs/HOMESERVERS.md "Repairs on Dendrite"): what the writer and the late-fork merge conclude there.
 * The model reproduces what the wire showed on Dendrite: an event of a state key other than `""`
 * names, as the event it replaced, the current event of the state key `""` of the same type.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import PQueue from "p-queue";
import { EVENT_TYPE } from "../../src/db/format.js";
import { UnverifiableWriteError } from "../../src/db/errors.js";
import type { LineageEvent } from "../../src/db/lineage.js";
import { missingOps, repairsOnLinear } from "../../src/db/linear-lineage.js";
import { roomRequests } from "../../src/db/room-requests.js";
import { RoomMemory } from "../../src/db/room-memory.js";
import { linearFromSigns, linearReplacesState } from "../../src/db/server-kind.js";
import { HttpClient } from "../../src/http/client.js";
import type { Transport } from "../../src/http/types.js";
import { StateKeyWriter, type WriterContext } from "../../src/db/writer.js";
import { RoomState } from "../../src/state/room-state.js";

const DENDRITE = "Dendrite 0.13.8";

/** Events per state key; `replacesOf` says what the server writes as `replaces_state`. */
class DendriteModel {
  readonly events = new Map<string, LineageEvent & { stateKey: string }>();
  readonly current = new Map<string, string>();
  readonly puts: Array<{ stateKey: string; content: Record<string, unknown>; by: string }> = [];
  private n = 0;
  private ts = 1000;

  write(stateKey: string, content: Record<string, unknown>, by = "@me:hs"): string {
    const eventId = `$e${++this.n}`;
    // syncapi updateStateEvent: a state key that is not a user ID is looked up as "".
    const replaces = this.current.get("");
    this.events.set(eventId, { eventId, replaces, content, ts: this.ts++, sender: by, stateKey });
    this.current.set(stateKey, eventId);
    return eventId;
  }

  currentEvent(stateKey: string): LineageEvent | undefined {
    const id = this.current.get(stateKey);
    return id === undefined ? undefined : this.events.get(id);
  }
}

function writer(model: DendriteModel, stateKey: string, linear: string | undefined) {
  const ctx: WriterContext = {
    queue: new PQueue({ concurrency: 4 }),
    userId: "@me:hs",
    synced: () => undefined,
    putState: async (s, content) => {
      model.puts.push({ stateKey: s, content, by: "@me:hs" });
      return model.write(s, content);
    },
    currentEvent: async (s) => model.currentEvent(s),
    fetchEvent: async (id) => model.events.get(id),
    linearReplacesState: async () => linear,
    settleMs: 0,
    shared: false,
    writeTimeoutMs: 60_000,
    retryDelay: () => undefined,
    now: () => 0,
    sleep: async () => undefined,
    defer: (fn) => setImmediate(fn),
    onError: () => undefined,
  };
  return new StateKeyWriter(stateKey, ctx);
}

test("per-key on Dendrite: replaces_state naming the shared key's event plans no repair; put and delete verify", { timeout: 10_000 }, async () => {
  const model = new DendriteModel();
  model.write("", { where: "main" });
  const w = writer(model, "solo", DENDRITE);
  await w.enqueue({ kind: "put", key: "solo", value: [1, 2, 3] });
  await w.verify();
  await w.enqueue({ kind: "delete", key: "solo" });
  await w.verify();
  // Drawn from that lineage, the plan would have put the shared key's `where` into "solo".
  assert.deepEqual(
    model.puts.map((p) => [p.stateKey, p.content]),
    [
      ["solo", { solo: [1, 2, 3] }],
      ["solo", {}],
    ],
  );
});

test("per-key on Dendrite: an op of ours another writer undid is refused with UnverifiableWriteError, never written again", { timeout: 10_000 }, async () => {
  const model = new DendriteModel();
  model.write("", { where: "main" });
  model.write("solo", { solo: 1 }, "@other:hs");
  const w = writer(model, "solo", DENDRITE);
  await w.enqueue({ kind: "delete", key: "solo" });
  model.write("solo", { solo: 1 }, "@other:hs");
  const error = await w.verify().then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof UnverifiableWriteError, String(error));
  assert.deepEqual([error.keys, error.server], [["solo"], DENDRITE]);
  assert.deepEqual(model.puts.length, 1);
});

test("the decision: Synapse keeps the plan; Dendrite refuses a plan on the shared key, drops it elsewhere, refuses a missing op anywhere", { timeout: 10_000 }, async () => {
  const write = { eventId: "$w", base: { eventId: undefined, content: {} }, ops: [{ kind: "put" as const, key: "a", value: 1 }], content: { a: 1 }, shown: true, holder: false };
  const repair = { op: { kind: "put" as const, key: "where", value: "main" }, expect: undefined };
  const input = (stateKey: string, content: Record<string, unknown>, linear: string | undefined) => ({
    stateKey,
    repairs: [repair],
    content,
    ours: [write],
    unverified: new Map([["a", { op: write.ops[0]!, write }]]),
    pendingKeys: new Set<string>(),
    linear: async () => linear,
  });
  assert.deepEqual(await repairsOnLinear(input("", { a: 1 }, undefined)), [repair]);
  assert.deepEqual(await repairsOnLinear(input("a", { a: 1 }, DENDRITE)), []);
  const shared = await repairsOnLinear(input("", { a: 1 }, DENDRITE)).catch((e: unknown) => e);
  assert.ok(shared instanceof UnverifiableWriteError && shared.keys.join() === "where", String(shared));
  const missing = await repairsOnLinear(input("a", {}, DENDRITE)).catch((e: unknown) => e);
  assert.ok(missing instanceof UnverifiableWriteError && missing.keys.join() === "a", String(missing));
  assert.deepEqual(missingOps({ ...input("a", {}, DENDRITE), pendingKeys: new Set(["a"]) }), [], "a key with an op queued is ours to set next");
});

test("late-fork merge on Dendrite: a fork the lineage seems to show is not merged", { timeout: 10_000 }, async () => {
  for (const linear of [undefined, DENDRITE]) {
    const events = new Map<string, LineageEvent>();
    let current: string | undefined;
    const puts: Array<Record<string, unknown>> = [];
    const put = (e: LineageEvent) => {
      events.set(e.eventId, e);
      current = e.eventId;
    };
    const raw = (e: LineageEvent) => ({ type: EVENT_TYPE, state_key: "", content: e.content, event_id: e.eventId, sender: "@w:hs", origin_server_ts: e.ts, unsigned: e.replaces ? { replaces_state: e.replaces } : {} });
    let state = new RoomState("!r:hs");
    const room = new RoomMemory("!r:hs", {
      queue: new PQueue({ concurrency: 4 }),
      singleStateKey: true,
      state: () => state,
      putState: async (_s, content) => {
        puts.push(content);
        put({ eventId: `$m${puts.length}`, replaces: current, content, ts: 2000 + puts.length });
        return current!;
      },
      currentEvent: async () => (current ? events.get(current) : undefined),
      allState: async () => [],
      fetchEvent: async (id) => events.get(id),
      linearReplacesState: async () => linear,
      redact: async () => undefined,
      userId: "@r:hs",
      settleMs: 0,
      mergeForks: true,
      writeTimeoutMs: 60_000,
      retryDelay: () => undefined,
      now: () => 0,
      sleep: async () => undefined,
      defer: (fn) => setImmediate(fn),
      onError: () => undefined,
    });
    const sync = async (e: LineageEvent) => {
      state = new RoomState("!r:hs", [raw(events.get(current!)!)]);
      room.onSync([raw(e)]);
      for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
      await room.verify();
    };
    put({ eventId: "$p", replaces: undefined, content: { base: 1 }, ts: 1 });
    await sync(events.get("$p")!);
    put({ eventId: "$held", replaces: "$p", content: { base: 1, w: 1 }, ts: 2 });
    await sync(events.get("$held")!);
    put({ eventId: "$next", replaces: "$p", content: { base: 1, c: 1 }, ts: 3 });
    await sync(events.get("$next")!);
    // Synapse's meaning: $held lost a fork and `w` is put back. Dendrite's: nothing is sent.
    assert.deepEqual(puts, linear === undefined ? [{ base: 1, c: 1, w: 1 }] : [], `linear: ${linear}`);
  }
});

/** A transport answering by path; everything else 404 M_UNRECOGNIZED. Records the paths asked. */
function fakeServer(routes: Record<string, unknown>) {
  const asked: string[] = [];
  const transport: Transport = async (req) => {
    const path = new URL(req.url).pathname;
    asked.push(decodeURIComponent(path));
    const hit = Object.entries(routes).find(([p]) => decodeURIComponent(path) === p);
    const [status, body] = hit ? [200, hit[1]] : [404, { errcode: "M_UNRECOGNIZED", error: "Unrecognized request" }];
    return { status, headers: { "content-type": "application/json" }, body: new TextEncoder().encode(JSON.stringify(body)) };
  };
  return { http: new HttpClient({ baseUrl: "http://127.0.0.1:1", accessToken: "t", transport}), asked };
}

const stateEventPath = "/_matrix/client/v3/rooms/!r:hs/state/dev.opsdroid.database/k";
const event = (unsigned: Record<string, unknown> | undefined) => ({ type: EVENT_TYPE, state_key: "k", content: {}, event_id: "$e", sender: "@a:hs", origin_server_ts: 1, room_id: "!r:hs", ...(unsigned ? { unsigned } : {}) });

test("telling Dendrite apart: by the federation name, else by events served without unsigned.age", { timeout: 10_000 }, async () => {
  assert.equal(linearFromSigns({ name: "Dendrite", version: "0.13.8" }, false), DENDRITE);
  assert.equal(linearFromSigns({ name: "Synapse", version: "1.163.2" }, true), undefined, "a name is believed over the events");
  assert.equal(linearFromSigns(undefined, false), undefined);
  assert.match(linearFromSigns(undefined, true) ?? "", /does not name itself/);

  // Dendrite with its federation routes on: the name, asked once.
  const named = fakeServer({ "/_matrix/federation/v1/version": { server: { name: "Dendrite", version: "0.13.8" } } });
  assert.equal(await linearReplacesState(named.http), DENDRITE);
  assert.equal(await linearReplacesState(named.http), DENDRITE);
  assert.deepEqual(named.asked, ["/_matrix/federation/v1/version"]);

  // Federation routes off (404): the events the memory read decide, with no request of their own.
  for (const [unsigned, expected] of [
    [undefined, true],
    [{ replaces_state: "$p" }, true],
    [{ age: 5 }, false],
  ] as const) {
    const off = fakeServer({ [stateEventPath]: event(unsigned) });
    assert.equal(await linearReplacesState(off.http), undefined, "nothing read yet");
    await roomRequests(off.http, "!r:hs", { userId: "@me:hs" }).currentEvent("k");
    assert.equal((await linearReplacesState(off.http)) !== undefined, expected, JSON.stringify(unsigned));
    assert.deepEqual(off.asked, ["/_matrix/federation/v1/version", stateEventPath]);
  }
  // Only our own server's events count: a federated Synapse served another server's event without
  // age (the split-brain test in CI), and that is no sign of Dendrite.
  const remote = fakeServer({ [stateEventPath]: { ...event({ replaces_state: "$p" }), sender: "@b:other.example:8448" } });
  await roomRequests(remote.http, "!r:hs", { userId: "@me:hs" }).currentEvent("k");
  assert.equal(await linearReplacesState(remote.http), undefined, "another server's ageless event");
  const unknown = fakeServer({ [stateEventPath]: event(undefined) });
  await roomRequests(unknown.http, "!r:hs").currentEvent("k");
  assert.equal(await linearReplacesState(unknown.http), undefined, "without our user ID nothing is noted");
});

test("a current event served without unsigned (Dendrite's format=event) is read again by ID for its replaces_state; not with completeBare off", { timeout: 10_000 }, async () => {
  const eventPath = "/_matrix/client/v3/rooms/!r:hs/event/$e";
  for (const completeBare of [true, false]) {
    const server = fakeServer({ [stateEventPath]: event(undefined), [eventPath]: event({ replaces_state: "$p" }) });
    const current = await roomRequests(server.http, "!r:hs", { completeBare }).currentEvent("k");
    assert.equal(current?.replaces, completeBare ? "$p" : undefined);
    assert.deepEqual(server.asked, completeBare ? [stateEventPath, eventPath] : [stateEventPath]);
  }
  // Synapse's answer carries unsigned: used as it is.
  const synapse = fakeServer({ [stateEventPath]: event({ age: 1, replaces_state: "$p" }) });
  assert.equal((await roomRequests(synapse.http, "!r:hs", { completeBare: true }).currentEvent("k"))?.replaces, "$p");
  assert.deepEqual(synapse.asked, [stateEventPath]);
});
