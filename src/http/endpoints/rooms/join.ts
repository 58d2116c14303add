// POST /_matrix/client/v3/join/{roomIdOrAlias}
// https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3joinroomidoralias
import * as z from "zod/mini";
import { CLIENT_V3, endpoint, seg } from "../../endpoint.js";
import { cs } from "../../spec.js";

export interface JoinArgs {
  /** `!room:server` or `#alias:server`. */
  roomIdOrAlias: string;
  /** Servers to join through (`via`, v1.12; replaces the deprecated `server_name`). Repeated in the query. */
  via?: string[];
  reason?: string;
}

export const joinResponse = z.looseObject({ room_id: z.string() });

/** Errors: 403 `M_FORBIDDEN` (not invited, banned), 404 (unknown alias), 429. */
export const join = endpoint<JoinArgs, z.infer<typeof joinResponse>>({
  name: "POST join",
  method: "POST",
  spec: cs("#post_matrixclientv3joinroomidoralias"),
  auth: true,
  rateLimited: true,
  // Joining a room one is already in changes nothing (Synapse returns the existing membership).
  idempotent: true,
  request: (a) => ({
    path: `${CLIENT_V3}/join/${seg(a.roomIdOrAlias)}`,
    query: { via: a.via !== undefined && a.via.length > 0 ? a.via : undefined },
    body: a.reason !== undefined ? { reason: a.reason } : {},
  }),
  response: joinResponse,
});
