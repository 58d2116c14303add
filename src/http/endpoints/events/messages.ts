// GET /_matrix/client/v3/rooms/{roomId}/messages
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3roomsroomidmessages
import * as z from "zod/mini";
import { CLIENT_V3, endpoint, seg } from "../../endpoint.js";
import { cs } from "../../spec.js";
import { clientEvent } from "../schemas.js";

export interface MessagesArgs {
  roomId: string;
  /** `b` walks back from `from` (filling a sync gap from `prev_batch`), `f` forward. */
  dir: "b" | "f";
  /** A `prev_batch`/`next_batch`/`end` token; without it the server starts at the newest (b) or oldest (f) event. */
  from?: string;
  /** Stop at this token. */
  to?: string;
  /** Server default 10. */
  limit?: number;
  /** A RoomEventFilter; sent as its JSON text. */
  filter?: Record<string, unknown>;
}

export const messagesResponse = z.looseObject({
  start: z.string(),
  /** Absent when there is nothing further: the end of pagination. */
  end: z.optional(z.string()),
  chunk: z.array(clientEvent),
  state: z.optional(z.array(clientEvent)),
});

/** Error: 403 when the user is not a member. */
export const messages = endpoint<MessagesArgs, z.infer<typeof messagesResponse>>({
  name: "GET messages",
  method: "GET",
  spec: cs("#get_matrixclientv3roomsroomidmessages"),
  auth: true,
  rateLimited: false,
  idempotent: true,
  request: (a) => ({
    path: `${CLIENT_V3}/rooms/${seg(a.roomId)}/messages`,
    query: { dir: a.dir, from: a.from, to: a.to, limit: a.limit, filter: a.filter === undefined ? undefined : JSON.stringify(a.filter) },
  }),
  response: messagesResponse,
});
