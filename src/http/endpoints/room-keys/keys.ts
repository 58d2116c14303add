// PUT|GET /_matrix/client/v3/room_keys/keys
// https://spec.matrix.org/v1.19/client-server-api/#put_matrixclientv3room_keyskeys
import * as z from "zod/mini";
import { CLIENT_V3, endpoint } from "../../endpoint.js";
import { cs } from "../../spec.js";

const sessionData = z.looseObject({
  first_message_index: z.number(),
  forwarded_count: z.number(),
  is_verified: z.boolean(),
  session_data: z.record(z.string(), z.unknown()),
});

export const roomKeysBody = z.looseObject({
  rooms: z.record(z.string(), z.looseObject({ sessions: z.record(z.string(), sessionData) })),
});

export interface PutRoomKeysArgs {
  version: string;
  body: { rooms: Record<string, { sessions: Record<string, unknown> }> };
}

/**
 * Stores room keys in a backup version. The server keeps, per session, the better copy (verified,
 * lower first index, fewer forwards): sending the same body twice is harmless. 403 M_WRONG_ROOM_KEYS_VERSION
 * when `version` is not the current backup.
 */
export const putRoomKeys = endpoint<PutRoomKeysArgs, { etag: string; count: number }>({
  name: "PUT room_keys/keys",
  method: "PUT",
  spec: cs("#put_matrixclientv3room_keyskeys"),
  auth: true,
  rateLimited: false,
  idempotent: true,
  request: (a) => ({ path: `${CLIENT_V3}/room_keys/keys`, query: { version: a.version }, body: a.body }),
  response: z.looseObject({ etag: z.string(), count: z.number() }),
});

/** Every room key in a backup version. */
export const getRoomKeys = endpoint<{ version: string }, z.infer<typeof roomKeysBody>>({
  name: "GET room_keys/keys",
  method: "GET",
  spec: cs("#get_matrixclientv3room_keyskeys"),
  auth: true,
  rateLimited: false,
  idempotent: true,
  request: (a) => ({ path: `${CLIENT_V3}/room_keys/keys`, query: { version: a.version } }),
  response: roomKeysBody,
});
