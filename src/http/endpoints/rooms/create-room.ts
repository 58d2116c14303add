// POST /_matrix/client/v3/createRoom
// https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3createroom
import * as z from "zod/mini";
import { CLIENT_V3, endpoint } from "../../endpoint.js";
import { cs } from "../../spec.js";

/** One entry of `initial_state`, e.g. `{type: "m.room.encryption", state_key: "", content: {algorithm: "m.megolm.v1.aes-sha2"}}`. */
export interface InitialStateEvent {
  type: string;
  state_key?: string;
  content: Record<string, unknown>;
}

/** The request body, with the spec's own field names (it is sent as is). */
export interface CreateRoomArgs {
  visibility?: "public" | "private";
  room_alias_name?: string;
  name?: string;
  topic?: string;
  invite?: string[];
  room_version?: string;
  creation_content?: Record<string, unknown>;
  initial_state?: InitialStateEvent[];
  preset?: "private_chat" | "public_chat" | "trusted_private_chat";
  is_direct?: boolean;
  power_level_content_override?: Record<string, unknown>;
}

export const createRoomResponse = z.looseObject({ room_id: z.string() });

/** Errors: 400 `M_ROOM_IN_USE` (alias taken), `M_INVALID_ROOM_STATE`, `M_UNSUPPORTED_ROOM_VERSION`; 403. */
export const createRoom = endpoint<CreateRoomArgs, z.infer<typeof createRoomResponse>>({
  name: "POST createRoom",
  method: "POST",
  spec: cs("#post_matrixclientv3createroom"),
  auth: true,
  // The spec lists no 429 here, though Synapse limits room creation (rc_room_creation).
  rateLimited: false,
  // Each success makes a new room: never resent blindly.
  idempotent: false,
  request: (a) => ({ path: `${CLIENT_V3}/createRoom`, body: a }),
  response: createRoomResponse,
});
