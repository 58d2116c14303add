// GET /_matrix/client/v3/rooms/{roomId}/context/{eventId}
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3roomsroomidcontexteventid
import * as z from "zod/mini";
import { CLIENT_V3, endpoint, seg } from "../../endpoint.js";
import { cs } from "../../spec.js";
import { clientEvent } from "../schemas.js";

export interface ContextArgs {
  roomId: string;
  eventId: string;
  /** Events before and after it, together; 0 for the event and its state alone. */
  limit?: number;
  /** A RoomEventFilter, sent as its JSON text; it also filters `state`. */
  filter?: Record<string, unknown>;
}

export const contextResponse = z.looseObject({
  start: z.optional(z.string()),
  end: z.optional(z.string()),
  event: z.optional(clientEvent),
  events_before: z.optional(z.array(clientEvent)),
  events_after: z.optional(z.array(clientEvent)),
  /** The room's state at the last event returned. */
  state: z.optional(z.array(clientEvent)),
});

/** An event, the events around it, and the room's state there. 404 when the event cannot be seen. */
export const context = endpoint<ContextArgs, z.infer<typeof contextResponse>>({
  name: "GET context",
  method: "GET",
  spec: cs("#get_matrixclientv3roomsroomidcontexteventid"),
  auth: true,
  rateLimited: false,
  idempotent: true,
  request: (a) => ({
    path: `${CLIENT_V3}/rooms/${seg(a.roomId)}/context/${seg(a.eventId)}`,
    query: { limit: a.limit, filter: a.filter === undefined ? undefined : JSON.stringify(a.filter) },
  }),
  response: contextResponse,
});
