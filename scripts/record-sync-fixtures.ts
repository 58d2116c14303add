/**
 * Record the /sync fixtures under fixtures/sync/ from a real Synapse (started here, stopped at the end):
 *   npx tsx scripts/record-sync-fixtures.ts
 *
 * Writer A changes a room's state step by step; observer B syncs after each step twice over, on two
 * independent since-tokens: once classic (`state` + timeline) and once with state_after (MSC4222).
 * Both recordings tell the same story, so the unit tests can check that both paths give the same
 * picture, and that it equals the server's own answer to GET /rooms/{roomId}/state (recorded too).
 * The observer's filter keeps timelines short (limit 5) so that one step yields a limited timeline.
 * No access token is written: /sync responses carry none.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { HttpClient } from "../src/http/client.js";
import { redact } from "../src/http/endpoints/events/redact.js";
import { createRoom } from "../src/http/endpoints/rooms/create-room.js";
import { join as joinRoom } from "../src/http/endpoints/rooms/join.js";
import { leave } from "../src/http/endpoints/rooms/leave.js";
import { getAllState } from "../src/http/endpoints/state/get-all-state.js";
import { putState } from "../src/http/endpoints/state/put-state.js";
import { sync, type SyncResponse } from "../src/http/endpoints/sync/sync.js";
import { Homeserver } from "../src/homeserver/synapse.js";
import { projectRoot } from "../src/homeserver/venv.js";

const OUT = join(projectRoot(), "fixtures", "sync");
const FILTER = JSON.stringify({ presence: { not_types: ["*"] }, account_data: { not_types: ["*"] }, room: { state: { lazy_load_members: false }, timeline: { limit: 5 }, ephemeral: { not_types: ["*"] }, account_data: { not_types: ["*"] } } });
const DB = "dev.opsdroid.database";

type Mode = "classic" | "state_after";
interface Step {
  name: string;
  responses: SyncResponse[];
}

class Observer {
  readonly steps: Record<Mode, Step[]> = { classic: [], state_after: [] };
  private readonly since: Record<Mode, string | undefined> = { classic: undefined, state_after: undefined };
  constructor(private readonly client: HttpClient) {}

  /** Sync both streams until `done(response)` holds for a response of each; record every response. */
  async step(name: string, done: (r: SyncResponse) => boolean): Promise<void> {
    for (const mode of ["classic", "state_after"] as const) {
      const step: Step = { name, responses: [] };
      for (let i = 0; ; i++) {
        if (i > 20) throw new Error(`step ${name} (${mode}): condition not met after 20 syncs`);
        const r = await this.client.send(sync, { filter: FILTER, since: this.since[mode], timeout: this.since[mode] ? 3000 : 0, stateAfter: mode === "state_after" ? "unstable" : undefined });
        this.since[mode] = r.next_batch;
        step.responses.push(r);
        if (done(r)) break;
      }
      this.steps[mode].push(step);
    }
  }
}

function timelineHas(roomId: string, eventId: string) {
  return (r: SyncResponse) => (r.rooms?.join?.[roomId]?.timeline?.events ?? []).some((e) => e.event_id === eventId);
}

async function main(): Promise<void> {
  const hs = await Homeserver.start({ rateLimits: "lifted", onProgress: (l) => process.stderr.write(`# ${l}\n`) });
  try {
    const a = await hs.registerUser("writer-a");
    const b = await hs.registerUser("observer-b");
    const A = hs.client(a.accessToken);
    const B = hs.client(b.accessToken);
    const obs = new Observer(B);
    const put = async (stateKey: string, content: Record<string, unknown>) =>
      (await A.send(putState, { roomId, eventType: DB, stateKey, content })).event_id;

    await obs.step("initial", () => true);
    const { room_id: roomId } = await A.send(createRoom, { preset: "private_chat", room_version: "11", name: "sync fixtures", invite: [b.userId] });
    await obs.step("invite", (r) => roomId in (r.rooms?.invite ?? {}));
    await B.send(joinRoom, { roomIdOrAlias: roomId });
    await obs.step("join", (r) => roomId in (r.rooms?.join ?? {}));

    await put("", { a: 1 });
    const k1 = await put("k1", { v: 1 });
    await obs.step("put", timelineHas(roomId, k1));

    // A state event that reverts to an older value: a new event whose content equals an earlier one.
    await put("k1", { v: 2 });
    const revert = await put("k1", { v: 1 });
    await obs.step("revert", timelineHas(roomId, revert));

    // More events than the timeline limit: limited timeline, `state` covers the gap.
    for (let i = 2; i <= 13; i++) await put(`k${i}`, { v: i });
    await put("", { a: 2, gap: true });
    await put("k2", { v: "overwritten in the gap" });
    const lastOfGap = await put("k14", { v: 14 });
    await obs.step("limited", timelineHas(roomId, lastOfGap));

    // Redact the current value of the single-state-key entry: its content becomes {}.
    const current = (await A.send(getAllState, { roomId })).find((e) => e.type === DB && e.state_key === "")!;
    const red = await A.send(redact, { roomId, eventId: current.event_id, txnId: A.txnId(), reason: "fixture" });
    await obs.step("redact", timelineHas(roomId, red.event_id!));

    const truth = await B.send(getAllState, { roomId });

    await B.send(leave, { roomId });
    await obs.step("leave", (r) => roomId in (r.rooms?.leave ?? {}));

    const meta = { recordedWith: `Synapse ${hs.info.version}`, userId: b.userId, writer: a.userId, roomId, filter: JSON.parse(FILTER) };
    for (const mode of ["classic", "state_after"] as const) {
      writeFileSync(join(OUT, `scenario.${mode}.json`), `${JSON.stringify({ ...meta, mode, steps: obs.steps[mode] }, null, 2)}\n`);
    }
    writeFileSync(join(OUT, "scenario.room-state.json"), `${JSON.stringify({ ...meta, after: "redact", events: truth }, null, 2)}\n`);
    process.stderr.write(`# wrote ${OUT}/scenario.{classic,state_after,room-state}.json\n`);
  } finally {
    await hs.stop();
  }
}

await main();
