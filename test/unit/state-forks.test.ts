/** The classic sync path cannot tell whether a forked state event won: the reducer says which keys to ask about. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { reduceJoinedRoom } from "../../src/state/reduce.js";
import { RoomState } from "../../src/state/room-state.js";

const ev = (id: string, stateKey: string, content: Record<string, unknown>, replaces?: string) => ({
  type: "dev.opsdroid.database",
  state_key: stateKey,
  event_id: id,
  sender: "@a:hs",
  origin_server_ts: 1,
  content,
  unsigned: replaces ? { replaces_state: replaces } : {},
});

test("a timeline event that replaced the event we hold is certain; one that replaced an older one is not", { timeout: 10_000 }, () => {
  const held = new RoomState("!r:hs");
  held.put(ev("$p", "", { a: 0 }));
  held.put(ev("$q", "k", { b: 0 }));
  const r = reduceJoinedRoom(held, "!r:hs", { timeline: { events: [ev("$x", "", { a: 1 }, "$p"), ev("$y", "", { a: 2 }, "$p"), ev("$z", "k", { b: 1 }, "$q")] } }, { wholesale: false });
  assert.deepEqual(r.uncertain, [{ type: "dev.opsdroid.database", stateKey: "" }], "$y forked off $p beside $x");
  assert.equal(r.mode, "classic");
});

test("the state section (the state at the start of a limited timeline) is what the first event replaced", { timeout: 10_000 }, () => {
  const held = new RoomState("!r:hs");
  held.put(ev("$old", "", { a: 0 }));
  const r = reduceJoinedRoom(held, "!r:hs", { state: { events: [ev("$gap", "", { a: 5 })] }, timeline: { limited: true, events: [ev("$x", "", { a: 6 }, "$gap")] } }, { wholesale: false });
  assert.deepEqual(r.uncertain, []);
  assert.deepEqual(r.state.get("dev.opsdroid.database", "")?.content, { a: 6 });
});

test("state_after needs no such check: it is the state after the timeline", { timeout: 10_000 }, () => {
  const held = new RoomState("!r:hs");
  held.put(ev("$p", "", { a: 0 }));
  const r = reduceJoinedRoom(held, "!r:hs", { timeline: { events: [ev("$x", "", { a: 1 }, "$p"), ev("$y", "", { a: 2 }, "$p")] }, state_after: { events: [ev("$x", "", { a: 1 }, "$p")] } }, { wholesale: false });
  assert.deepEqual(r.uncertain, []);
  assert.deepEqual(r.state.get("dev.opsdroid.database", "")?.content, { a: 1 });
});

test("two events that both created a new key: the second replaced nothing, yet we held the first", { timeout: 10_000 }, () => {
  const r = reduceJoinedRoom(new RoomState("!r:hs"), "!r:hs", { timeline: { events: [ev("$x", "k", { a: 1 }), ev("$y", "k", { a: 2 })] } }, { wholesale: true });
  assert.deepEqual(r.uncertain, [{ type: "dev.opsdroid.database", stateKey: "k" }]);
});
