// GET /_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey}
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3roomsroomidstateeventtypestatekey
import type * as z from "zod/mini";
import { CLIENT_V3, endpoint, seg } from "../../endpoint.js";
import { cs } from "../../spec.js";
import { eventContent, stateEvent } from "../schemas.js";

export interface GetStateArgs {
  roomId: string;
  eventType: string;
  stateKey: string;
}

/** Same path form as PUT state: an empty state key keeps the trailing slash. */
const statePath = (a: GetStateArgs) => `${CLIENT_V3}/rooms/${seg(a.roomId)}/state/${seg(a.eventType)}/${seg(a.stateKey)}`;

/** The content of one state event. 404 `M_NOT_FOUND` when there is none (or the user may not see it). */
export const getStateContent = endpoint<GetStateArgs, z.infer<typeof eventContent>>({
  name: "GET state",
  method: "GET",
  spec: cs("#get_matrixclientv3roomsroomidstateeventtypestatekey"),
  auth: true,
  rateLimited: false,
  idempotent: true,
  request: (a) => ({ path: statePath(a) }),
  response: eventContent,
});

/**
 * The whole state event (`format=event`, added in v1.16): its event ID and sender, which the
 * content alone does not give.
 */
export const getStateEvent = endpoint<GetStateArgs, z.infer<typeof stateEvent>>({
  name: "GET state (format=event)",
  method: "GET",
  spec: cs("#get_matrixclientv3roomsroomidstateeventtypestatekey"),
  auth: true,
  rateLimited: false,
  idempotent: true,
  request: (a) => ({ path: statePath(a), query: { format: "event" } }),
  response: stateEvent,
});
