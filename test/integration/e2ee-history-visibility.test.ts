/**
 * A reader who joins an encrypted room later (docs/ENCRYPTION.md "History visibility"): values written
 * before the join are reported as undecryptable with the reason, never as absent, under `joined` (the
 * server hides the events) and under `shared` (the events are visible, their room key was never shared
 * with the later member). Values written after the join read.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { Memory, MemoryStore, UndecryptableValueError, type MemoryOptions } from "../../src/index.js";
import { join } from "../../src/http/endpoints/rooms/join.js";
import { createRoom } from "../../src/http/endpoints/rooms/create-room.js";
import { testHomeserver, newUser, type TestUser } from "../helpers/homeserver.js";
import { eventually } from "../helpers/wait.js";

let baseUrl: string;
const open = new Set<Memory>();

async function memory(user: TestUser, roomId: string, extra: Partial<MemoryOptions> = {}): Promise<Memory> {
  const m = await Memory.open({ homeserver: baseUrl, accessToken: user.accessToken, rooms: { main: roomId }, store: new MemoryStore(), syncTimeoutMs: 2000, ...extra });
  open.add(m);
  return m;
}

before(async () => {
  baseUrl = (await testHomeserver()).info.baseUrl;
});
after(async () => {
  await Promise.all([...open].map((m) => m.close()));
});

for (const visibility of ["joined", "shared"] as const) {
  test(`history visibility ${visibility}: a later member gets UndecryptableValueError with the reason for earlier values, and reads later ones`, { timeout: 300_000 }, async () => {
    const [alice, bob] = [await newUser("alice"), await newUser("bob")];
    const { room_id: roomId } = await alice.client.send(createRoom, {
      preset: "private_chat",
      invite: [bob.userId],
      power_level_content_override: { users: { [bob.userId]: 50 } },
      initial_state: [
        { type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } },
        { type: "m.room.history_visibility", state_key: "", content: { history_visibility: visibility } },
      ],
    });
    const a = await memory(alice, roomId);
    await a.put("before", { written: "before bob joined" });
    await bob.client.send(join, { roomIdOrAlias: roomId });
    const b = await memory(bob, roomId);
    const error = await b.get("before").then(
      (v) => v,
      (e: unknown) => e,
    );
    assert.ok(error instanceof UndecryptableValueError, `got ${JSON.stringify(error)}`);
    if (visibility === "joined") assert.match(error.reason, /history visibility is joined/);
    else assert.match(error.reason, /sent before this account joined/);
    // After the join, alice's next value reaches bob's device.
    await a.put("after", { written: "after bob joined" });
    const got = await eventually(() => b.get("after").catch((e: unknown) => e), (v) => !(v instanceof Error) && v !== undefined, 60_000, 100);
    assert.deepEqual(got, { written: "after bob joined" });
  });
}
