import { test } from "node:test";
import assert from "node:assert/strict";
import { redactContent } from "../../src/state/redaction.js";
import { reduceJoinedRoom } from "../../src/state/reduce.js";
import { RoomState, RoomStateFormatError } from "../../src/state/room-state.js";
import type { StateEvent } from "../../src/state/types.js";

let n = 0;
function ev(type: string, stateKey: string, content: Record<string, unknown>, sender = "@a:hs"): StateEvent {
  return { type, state_key: stateKey, content, sender, event_id: `$e${++n}`, origin_server_ts: 1000 + n };
}

function room(version: string, extra: StateEvent[] = [], createExtra: Record<string, unknown> = {}): RoomState {
  return new RoomState("!r:hs", [
    ev("m.room.create", "", { room_version: version, ...(version === "1" ? { creator: "@a:hs" } : {}), ...createExtra }),
    ev("m.room.member", "@a:hs", { membership: "join" }),
    ev("m.room.member", "@b:hs", { membership: "join" }, "@b:hs"),
    ev("m.room.member", "@c:hs", { membership: "invite" }),
    ...extra,
  ]);
}

test("membership, joined members, room version and encryption settings", { timeout: 30_000 }, () => {
  const r = room("11", [ev("m.room.encryption", "", { algorithm: "m.megolm.v1.aes-sha2", rotation_period_msgs: 50 })]);
  assert.equal(r.membership("@b:hs"), "join");
  assert.equal(r.membership("@c:hs"), "invite");
  assert.equal(r.membership("@nobody:hs"), undefined);
  assert.deepEqual(r.joinedMembers().sort(), ["@a:hs", "@b:hs"]);
  assert.equal(r.roomVersion(), "11");
  assert.deepEqual(r.encryption(), { algorithm: "m.megolm.v1.aes-sha2", rotation_period_msgs: 50 });
  assert.equal(new RoomState("!x:hs").roomVersion(), "1");
  assert.equal(new RoomState("!x:hs").encryption(), undefined);
});

test("canSendState: state_default 50, events override, users/users_default, membership required", { timeout: 30_000 }, () => {
  const pl = ev("m.room.power_levels", "", { users: { "@a:hs": 100, "@b:hs": 50 }, users_default: 0, events: { "dev.opsdroid.database": 0, "m.room.name": 60 } });
  const r = room("11", [pl]);
  assert.equal(r.canSendState("@b:hs", "m.room.topic"), true); // 50 >= state_default 50 (unspecified)
  assert.equal(r.canSendState("@b:hs", "m.room.name"), false); // events override: 60
  assert.equal(r.canSendState("@b:hs", "dev.opsdroid.database"), true);
  assert.equal(r.canSendState("@c:hs", "dev.opsdroid.database"), false); // invited, not joined
  const strict = room("11", [ev("m.room.power_levels", "", { users: { "@a:hs": 100 }, state_default: 100, users_default: "10" })]);
  assert.equal(strict.canSendState("@b:hs", "dev.opsdroid.database"), false);
  assert.equal(strict.powerLevel("@b:hs"), 10); // numeric strings were valid before room v10
});

test("canSendState without a power_levels event: the creator has 100, state_default is 0", { timeout: 30_000 }, () => {
  const r = room("11");
  assert.equal(r.powerLevel("@a:hs"), 100);
  assert.equal(r.powerLevel("@b:hs"), 0);
  assert.equal(r.canSendState("@b:hs", "dev.opsdroid.database"), true);
  assert.equal(room("1").powerLevel("@a:hs"), 100); // v1: creator from content.creator
});

test("room v12: creators (sender and additional_creators) have infinite power, whatever power_levels says", { timeout: 30_000 }, () => {
  const pl = ev("m.room.power_levels", "", { users: { "@b:hs": 0 }, state_default: 100 });
  const r = room("12", [pl], { additional_creators: ["@b:hs"] });
  assert.equal(r.powerLevel("@a:hs"), Infinity);
  assert.equal(r.canSendState("@b:hs", "m.room.power_levels"), true);
  assert.equal(room("11", [pl], { additional_creators: ["@b:hs"] }).canSendState("@b:hs", "x"), false);
});

test("toJSON/fromJSON round-trips; an unknown snapshot version is a typed error", { timeout: 30_000 }, () => {
  const r = room("11", [ev("dev.opsdroid.database", "k|x", { v: 1 })]);
  const back = RoomState.fromJSON(JSON.parse(JSON.stringify(r.toJSON())));
  assert.deepEqual([...back.events()], [...r.events()]);
  assert.equal(back.get("dev.opsdroid.database", "k|x")?.content.v, 1);
  assert.throws(() => RoomState.fromJSON({ version: 2, roomId: "!r:hs", events: [] }), RoomStateFormatError);
  assert.throws(() => RoomState.fromJSON("nonsense"), RoomStateFormatError);
});

test("redaction rules by room version", { timeout: 30_000 }, () => {
  assert.deepEqual(redactContent("dev.opsdroid.database", { k: 1 }, "11"), {});
  assert.deepEqual(redactContent("m.room.create", { creator: "@a:hs", room_version: "5", x: 1 }, "5"), { creator: "@a:hs" });
  assert.deepEqual(redactContent("m.room.create", { room_version: "11", x: 1 }, "11"), { room_version: "11", x: 1 });
  assert.deepEqual(redactContent("m.room.power_levels", { ban: 50, invite: 0, users: {}, x: 1 }, "10"), { ban: 50, users: {} });
  assert.deepEqual(redactContent("m.room.power_levels", { ban: 50, invite: 0, users: {}, x: 1 }, "11"), { ban: 50, invite: 0, users: {} });
  assert.deepEqual(redactContent("m.room.join_rules", { join_rule: "restricted", allow: [], x: 1 }, "7"), { join_rule: "restricted" });
  assert.deepEqual(redactContent("m.room.join_rules", { join_rule: "restricted", allow: [], x: 1 }, "8"), { join_rule: "restricted", allow: [] });
  assert.deepEqual(redactContent("m.room.aliases", { aliases: ["#a:hs"] }, "5"), { aliases: ["#a:hs"] });
  assert.deepEqual(redactContent("m.room.aliases", { aliases: ["#a:hs"] }, "6"), {});
  assert.deepEqual(
    redactContent("m.room.member", { membership: "invite", displayname: "x", third_party_invite: { signed: { s: 1 }, display_name: "y" } }, "11"),
    { membership: "invite", third_party_invite: { signed: { s: 1 } } },
  );
});

test("a pre-v11 redaction (top-level `redacts`) prunes a power_levels event by the v10 rules", { timeout: 30_000 }, () => {
  const pl = ev("m.room.power_levels", "", { users: { "@a:hs": 100 }, invite: 0, events: {} });
  const r = room("10", [pl]);
  const redaction = { type: "m.room.redaction", event_id: "$red", sender: "@a:hs", origin_server_ts: 5, content: {}, redacts: pl.event_id };
  const out = reduceJoinedRoom(r, "!r:hs", { timeline: { events: [redaction] } }, { wholesale: false });
  assert.deepEqual(out.state.get("m.room.power_levels", "")!.content, { users: { "@a:hs": 100 }, events: {} });
  assert.deepEqual(out.changes.map((c) => c.type), ["m.room.power_levels"]);
  assert.equal(r.get("m.room.power_levels", "")!.content.invite, 0, "the input state is not modified");
});

test("malformed events in a sync section are skipped, not fatal", { timeout: 30_000 }, () => {
  const good = ev("dev.opsdroid.database", "", { a: 1 });
  const out = reduceJoinedRoom(undefined, "!r:hs", { state: { events: [{ type: "x" }, null, good] }, timeline: { events: [{ nonsense: true }] } }, { wholesale: true });
  assert.deepEqual([...out.state.events()], [good]);
});
