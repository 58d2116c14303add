/** Rooms for integration tests: created by one test user, joined by others. */
import { createRoom, type CreateRoomArgs } from "../../src/http/endpoints/rooms/create-room.js";
import { join } from "../../src/http/endpoints/rooms/join.js";
import type { TestUser } from "./homeserver.js";

/** A private room made by `owner`, with `members` invited and joined, every member allowed to write state. */
export async function sharedRoom(owner: TestUser, members: TestUser[] = [], options: { encrypted?: boolean; extra?: Partial<CreateRoomArgs> } = {}): Promise<string> {
  // Room v12 (Synapse's default now) gives creators infinite power and refuses them in `users`.
  const users: Record<string, number> = {};
  for (const m of members) users[m.userId] = 50;
  const { room_id } = await owner.client.send(createRoom, {
    preset: "private_chat",
    invite: members.map((m) => m.userId),
    power_level_content_override: { users },
    ...(options.encrypted ? { initial_state: [{ type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } }] } : {}),
    ...options.extra,
  });
  for (const m of members) await m.client.send(join, { roomIdOrAlias: room_id });
  return room_id;
}
