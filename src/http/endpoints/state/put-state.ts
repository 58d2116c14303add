// PUT /_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey}
// https://spec.matrix.org/v1.19/client-server-api/#put_matrixclientv3roomsroomidstateeventtypestatekey
import type * as z from "zod/mini";
import { CLIENT_V3, endpoint, seg } from "../../endpoint.js";
import { cs } from "../../spec.js";
import { eventIdResponse } from "../schemas.js";

export { eventIdResponse };

export interface PutStateArgs {
  roomId: string;
  eventType: string;
  stateKey: string;
  content: Record<string, unknown>;
}

/**
 * No transaction ID exists for state, so a resend is a second write of the same content; Synapse
 * answers an identical write from the same sender with the previous event ID. The trailing slash
 * is kept for the empty state key (the spec makes it optional; one form, pinned by a test).
 */
export const putState = endpoint<PutStateArgs, z.infer<typeof eventIdResponse>>({
  name: "PUT state",
  method: "PUT",
  spec: cs("#put_matrixclientv3roomsroomidstateeventtypestatekey"),
  auth: true,
  rateLimited: false,
  idempotent: true,
  request: (a) => ({
    path: `${CLIENT_V3}/rooms/${seg(a.roomId)}/state/${seg(a.eventType)}/${seg(a.stateKey)}`,
    body: a.content,
  }),
  response: eventIdResponse,
});
