/**
 * From what the caller wrote to a joined room ID: a name from `rooms`, an alias, or a room ID
 * (opsdroid's `default_room` and `memory_in_room` accept all three).
 * - alias -> room ID: https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3directoryroomroomalias
 * - not joined yet -> join, via the servers the directory named: https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3joinroomidoralias
 */
import type { HttpClient } from "../http/client.js";
import { join } from "../http/endpoints/rooms/join.js";
import { resolveAlias } from "../http/endpoints/rooms/resolve-alias.js";
import { isMatrixError } from "../http/errors.js";
import type { SyncLoop } from "../sync/sync-loop.js";
import { UnknownRoomError } from "./errors.js";

/** Syncs to wait for a room we just joined to appear before giving up. */
const JOIN_SYNC_LIMIT = 20;

export async function resolveRoom(ref: string, rooms: Record<string, string>, http: HttpClient, sync: SyncLoop, userId: string): Promise<string> {
  const target = Object.prototype.hasOwnProperty.call(rooms, ref) ? rooms[ref]! : ref;
  let roomId: string;
  let via: string[] = [];
  if (target.startsWith("!")) {
    roomId = target;
  } else if (target.startsWith("#")) {
    try {
      const res = await http.send(resolveAlias, { roomAlias: target });
      roomId = res.room_id;
      via = res.servers ?? [];
    } catch (e) {
      if (isMatrixError(e, "M_NOT_FOUND")) throw new UnknownRoomError(ref, `the alias ${target} does not exist on the homeserver`);
      throw e;
    }
  } else {
    const names = Object.keys(rooms);
    throw new UnknownRoomError(ref, `not a name in rooms${names.length ? ` (${names.join(", ")})` : " (none configured)"}, an alias (#room:server) or a room ID (!id)`);
  }
  if (sync.room(roomId)?.membership(userId) === "join") return roomId;
  try {
    await http.send(join, { roomIdOrAlias: target.startsWith("#") ? target : roomId, via });
  } catch (e) {
    if (isMatrixError(e, "M_FORBIDDEN") || isMatrixError(e, "M_NOT_FOUND")) throw new UnknownRoomError(ref, `cannot join ${target}: ${e.error || e.errcode}`);
    throw e;
  }
  for (let i = 0; i < JOIN_SYNC_LIMIT && sync.room(roomId)?.membership(userId) !== "join"; i++) await sync.nextSync();
  return roomId;
}
