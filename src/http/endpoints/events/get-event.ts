// GET /_matrix/client/v3/rooms/{roomId}/event/{eventId}
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3roomsroomideventeventid
import type * as z from "zod/mini";
import { CLIENT_V3, endpoint, seg } from "../../endpoint.js";
import { cs } from "../../spec.js";
import { clientEvent } from "../schemas.js";

export interface GetEventArgs {
  roomId: string;
  eventId: string;
}

/** One event by ID. 404 `M_NOT_FOUND` also when the user may not see it. */
export const getEvent = endpoint<GetEventArgs, z.infer<typeof clientEvent>>({
  name: "GET event",
  method: "GET",
  spec: cs("#get_matrixclientv3roomsroomideventeventid"),
  auth: true,
  rateLimited: false,
  idempotent: true,
  request: (a) => ({ path: `${CLIENT_V3}/rooms/${seg(a.roomId)}/event/${seg(a.eventId)}` }),
  response: clientEvent,
});
