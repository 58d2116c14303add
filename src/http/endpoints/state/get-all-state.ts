// GET /_matrix/client/v3/rooms/{roomId}/state
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3roomsroomidstate
import * as z from "zod/mini";
import { CLIENT_V3, endpoint, seg } from "../../endpoint.js";
import { cs } from "../../spec.js";
import { stateEvent } from "../schemas.js";

export interface GetAllStateArgs {
  roomId: string;
}

/** The room's current state: a bare JSON array of state events. 403 if the user was never a member. */
export const allStateResponse = z.array(stateEvent);

export const getAllState = endpoint<GetAllStateArgs, z.infer<typeof allStateResponse>>({
  name: "GET all state",
  method: "GET",
  spec: cs("#get_matrixclientv3roomsroomidstate"),
  auth: true,
  rateLimited: false,
  idempotent: true,
  request: (a) => ({ path: `${CLIENT_V3}/rooms/${seg(a.roomId)}/state` }),
  response: allStateResponse,
});
