/**
 * The reducers against /sync responses recorded from Synapse 1.163.2 (scripts/record-sync-fixtures.ts):
 * the same story seen through the classic path and the state_after path must give the same picture,
 * and it must equal the server's own GET /rooms/{roomId}/state.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { SyncResponse } from "../../src/http/endpoints/sync/sync.js";
import { RoomState } from "../../src/state/room-state.js";
import type { StateChange, StateEvent } from "../../src/state/types.js";
import { planSync } from "../../src/sync/apply.js";

interface Recording {
  userId: string;
  writer: string;
  roomId: string;
  steps: { name: string; responses: SyncResponse[] }[];
}
const load = <T>(name: string): T => JSON.parse(readFileSync(fileURLToPath(new URL(`../../fixtures/sync/${name}`, import.meta.url)), "utf8")) as T;
const classic = load<Recording>("scenario.classic.json");
const stateAfter = load<Recording>("scenario.state_after.json");
const truth = load<{ events: StateEvent[] }>("scenario.room-state.json");
const DB = "dev.opsdroid.database";

interface Replay {
  rooms: ReadonlyMap<string, RoomState>;
  changes: StateChange[];
  left: string[];
  invited: { roomId: string; inviter: string | undefined }[];
  modes: Set<string>;
}

/** Feed the recorded responses, step by step, through planSync as the loop does; stop after `until`. */
function replay(rec: Recording, until?: string, stepFilter?: (name: string) => boolean): Replay & { byStep: Map<string, StateChange[]> } {
  let rooms: ReadonlyMap<string, RoomState> = new Map();
  let since: string | undefined;
  let stateAfterExpected = false;
  const out = { changes: [] as StateChange[], left: [] as string[], invited: [] as Replay["invited"], modes: new Set<string>(), byStep: new Map<string, StateChange[]>() };
  for (const step of rec.steps) {
    if (stepFilter && !stepFilter(step.name)) continue;
    const stepChanges: StateChange[] = [];
    for (const response of step.responses) {
      const plan = planSync(rooms, response, { initial: since === undefined, stateAfterExpected, userId: rec.userId });
      rooms = plan.rooms;
      since = response.next_batch;
      stateAfterExpected ||= plan.sawStateAfter;
      stepChanges.push(...plan.changes);
      out.left.push(...plan.left);
      out.invited.push(...plan.invited);
      for (const m of plan.modes.values()) out.modes.add(m);
    }
    out.byStep.set(step.name, stepChanges);
    out.changes.push(...stepChanges);
    if (step.name === until) break;
  }
  return { rooms, ...out };
}

/** The picture as comparable data: (type, state_key) -> {event_id, content}. */
function picture(events: Iterable<StateEvent>): Record<string, { event_id: string; content: unknown }> {
  const out: Record<string, { event_id: string; content: unknown }> = {};
  for (const e of events) out[JSON.stringify([e.type, e.state_key])] = { event_id: e.event_id, content: e.content };
  return out;
}

test("the classic path and the state_after path use the path they claim", { timeout: 30_000 }, () => {
  assert.deepEqual([...replay(classic, "redact").modes], ["classic"]);
  assert.deepEqual([...replay(stateAfter, "redact").modes], ["state_after"]);
});

for (const [name, rec] of [["classic", classic], ["state_after", stateAfter]] as const) {
  test(`${name}: after join, puts, a revert, a limited timeline and a redaction, the picture equals the server's room state`, { timeout: 30_000 }, () => {
    const room = replay(rec, "redact").rooms.get(rec.roomId);
    assert.ok(room, "the joined room is in the picture");
    assert.deepEqual(picture(room.events()), picture(truth.events));
  });
}

test("both paths give the same picture after every step", { timeout: 30_000 }, () => {
  for (const step of classic.steps.map((s) => s.name)) {
    const a = replay(classic, step).rooms.get(classic.roomId);
    const b = replay(stateAfter, step).rooms.get(stateAfter.roomId);
    assert.deepEqual(a && picture(a.events()), b && picture(b.events()), `after step ${step}`);
  }
});

test("an invite is reported with its inviter; the join brings the whole state", { timeout: 30_000 }, () => {
  for (const rec of [classic, stateAfter]) {
    const r = replay(rec, "join");
    assert.deepEqual(r.invited, [{ roomId: rec.roomId, inviter: rec.writer }]);
    const room = r.rooms.get(rec.roomId)!;
    assert.equal(room.membership(rec.userId), "join");
    assert.equal(room.roomVersion(), "11");
    assert.deepEqual(room.joinedMembers().sort(), [rec.userId, rec.writer].sort());
    assert.equal(room.canSendState(rec.writer, DB), true); // the creator has 100
    assert.equal(room.canSendState(rec.userId, DB), false); // private_chat: state_default 50, B has 0
  }
});

test("a state event that reverts to an older value is applied, keeping replaces_state and prev_content", { timeout: 30_000 }, () => {
  for (const rec of [classic, stateAfter]) {
    const r = replay(rec, "revert");
    const k1 = r.rooms.get(rec.roomId)!.get(DB, "k1")!;
    assert.deepEqual(k1.content, { v: 1 });
    assert.deepEqual(k1.unsigned?.prev_content, { v: 2 });
    assert.equal(typeof k1.unsigned?.replaces_state, "string");
    const changes = r.byStep.get("revert")!.filter((c) => c.stateKey === "k1");
    assert.deepEqual(changes.at(-1)!.event!.content, { v: 1 });
    assert.notEqual(changes.at(-1)!.event!.event_id, changes.at(-1)!.previous!.event_id);
  }
  // Both paths report one change per key per response, to the final value ({v:2} lived only inside the batch).
  assert.deepEqual(replay(classic, "revert").byStep.get("revert")!.map((c) => c.event!.content), [{ v: 1 }]);
  assert.deepEqual(replay(stateAfter, "revert").byStep.get("revert")!.map((c) => c.event!.content), [{ v: 1 }]);
});

test("a limited timeline: the gap's state is applied, and later timeline writes win over it", { timeout: 30_000 }, () => {
  for (const rec of [classic, stateAfter]) {
    const limited = rec.steps.find((s) => s.name === "limited")!;
    assert.ok(limited.responses.some((r) => r.rooms?.join?.[rec.roomId]?.timeline?.limited === true), "the recording has a gap");
    const room = replay(rec, "limited").rooms.get(rec.roomId)!;
    for (let i = 3; i <= 14; i++) assert.deepEqual(room.get(DB, `k${i}`)?.content, { v: i }, `k${i}`);
    assert.deepEqual(room.get(DB, "k2")?.content, { v: "overwritten in the gap" });
    assert.deepEqual(room.get(DB, "")?.content, { a: 2, gap: true });
    // Every key changed in the step is reported, in the order it happened: k14 was written last.
    const changes = replay(rec, "limited").byStep.get("limited")!;
    assert.equal(changes.at(-1)!.stateKey, "k14");
    assert.deepEqual(new Set(changes.map((c) => c.stateKey)), new Set(["", ...Array.from({ length: 13 }, (_, i) => `k${i + 2}`)]));
  }
});

test("a redacted state event: content pruned to {} for a custom type, redacted_because kept, a change emitted", { timeout: 30_000 }, () => {
  for (const rec of [classic, stateAfter]) {
    const r = replay(rec, "redact");
    const e = r.rooms.get(rec.roomId)!.get(DB, "")!;
    assert.deepEqual(e.content, {});
    assert.equal((e.unsigned?.redacted_because as { type?: string } | undefined)?.type, "m.room.redaction");
    const changes = r.byStep.get("redact")!;
    assert.equal(changes.length, 1);
    assert.equal(changes[0]!.event!.event_id, changes[0]!.previous!.event_id);
    assert.deepEqual(changes[0]!.previous!.content, { a: 2, gap: true });
  }
});

test("leaving the room drops it from the picture", { timeout: 30_000 }, () => {
  for (const rec of [classic, stateAfter]) {
    const r = replay(rec);
    assert.equal(r.rooms.has(rec.roomId), false);
    assert.deepEqual(r.left, [rec.roomId]);
  }
});

test("the server's state_after naming an older event corrects our picture (a state reset), not merged", { timeout: 30_000 }, () => {
  const r = replay(stateAfter, "limited");
  const room = r.rooms.get(stateAfter.roomId)!;
  // The first k1 event ({v:1}, from the "put" step): the server says the room went back to it.
  const older = replay(stateAfter, "put").rooms.get(stateAfter.roomId)!.get(DB, "k1")!;
  assert.notEqual(room.get(DB, "k1")!.event_id, older.event_id);
  const reset: SyncResponse = { next_batch: "s_reset", rooms: { join: { [stateAfter.roomId]: { "org.matrix.msc4222.state_after": { events: [older as unknown as { type: string }] }, timeline: { events: [], limited: false } } } } };
  const plan = planSync(r.rooms, reset, { initial: false, stateAfterExpected: true, userId: stateAfter.userId });
  assert.equal(plan.rooms.get(stateAfter.roomId)!.get(DB, "k1")!.event_id, older.event_id);
  assert.deepEqual(plan.changes.map((c) => [c.stateKey, c.event?.event_id]), [["k1", older.event_id]]);
  // The picture we held before is untouched (the loop swaps in the new one only after saving).
  assert.equal(room.get(DB, "k1")!.event_id, r.rooms.get(stateAfter.roomId)!.get(DB, "k1")!.event_id);
});

test("an initial sync replaces a room's state wholesale: state keys the server no longer has are removed", { timeout: 30_000 }, () => {
  const r = replay(classic, "limited");
  const joinStep = classic.steps.find((s) => s.name === "join")!.responses.at(-1)!;
  // Re-sync from scratch with the join response: k1..k14 and the "" entry did not exist then.
  const plan = planSync(r.rooms, joinStep, { initial: true, stateAfterExpected: false, userId: classic.userId });
  const room = plan.rooms.get(classic.roomId)!;
  assert.equal(room.ofType(DB).size, 0);
  const removed = plan.changes.filter((c) => c.event === undefined).map((c) => c.stateKey).sort();
  assert.deepEqual(removed, ["", ...Array.from({ length: 14 }, (_, i) => `k${i + 1}`)].sort());
});

test("replaying a response already applied changes nothing (no repeated change)", { timeout: 30_000 }, () => {
  for (const rec of [classic, stateAfter]) {
    for (const step of ["put", "revert", "limited", "redact"]) {
      const r = replay(rec, step);
      const last = rec.steps.find((s) => s.name === step)!.responses.at(-1)!;
      const plan = planSync(r.rooms, last, { initial: false, stateAfterExpected: rec === stateAfter, userId: rec.userId });
      assert.deepEqual(plan.changes, [], `${step}`);
    }
  }
});

test("both paths report the same changes, in the same order", { timeout: 30_000 }, () => {
  const view = (c: StateChange) => [c.type, c.stateKey, c.event?.event_id, c.previous?.event_id];
  assert.deepEqual(replay(classic, "redact").changes.filter((c) => c.type === DB).map(view), replay(stateAfter, "redact").changes.filter((c) => c.type === DB).map(view));
});

test("without saveRooms a plan saves only the token, and the picture is the same", { timeout: 30_000 }, () => {
  const response = classic.steps.flatMap((s) => s.responses).find((r) => Object.keys(r.rooms?.join ?? {}).length > 0)!;
  const saved = planSync(new Map(), response, { initial: true, stateAfterExpected: false, userId: classic.userId });
  const unsaved = planSync(new Map(), response, { initial: true, stateAfterExpected: false, userId: classic.userId, saveRooms: false });
  assert.ok(Object.keys(saved.entries).some((k) => k.startsWith("sync/room/")));
  assert.deepEqual(Object.keys(unsaved.entries), ["sync/next_batch"]);
  assert.deepEqual([...unsaved.rooms.keys()], [...saved.rooms.keys()]);
  assert.deepEqual(unsaved.changes, saved.changes);
});
