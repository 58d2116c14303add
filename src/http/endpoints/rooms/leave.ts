// POST /_matrix/client/v3/rooms/{roomId}/leave
// https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3roomsroomidleave
import type * as z from "zod/mini";
import { CLIENT_V3, endpoint, seg } from "../../endpoint.js";
import { cs } from "../../spec.js";
import { emptyResponse } from "../schemas.js";

export interface LeaveArgs {
  roomId: string;
  reason?: string;
}

export const leave = endpoint<LeaveArgs, z.infer<typeof emptyResponse>>({
  name: "POST leave",
  method: "POST",
  spec: cs("#post_matrixclientv3roomsroomidleave"),
  auth: true,
  rateLimited: true,
  // Leaving twice leaves the same state behind (the second answer may be a 403: nothing to leave).
  idempotent: true,
  request: (a) => ({ path: `${CLIENT_V3}/rooms/${seg(a.roomId)}/leave`, body: a.reason !== undefined ? { reason: a.reason } : {} }),
  response: emptyResponse,
});
