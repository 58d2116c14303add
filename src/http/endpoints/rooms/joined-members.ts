// GET /_matrix/client/v3/rooms/{roomId}/joined_members
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3roomsroomidjoined_members
import * as z from "zod/mini";
import { CLIENT_V3, endpoint, seg } from "../../endpoint.js";
import { cs } from "../../spec.js";

export interface JoinedMembersArgs {
  roomId: string;
}

export const joinedMembersResponse = z.looseObject({
  /** User ID → profile; the keys are what a key-sharing client needs. */
  joined: z.record(
    z.string(),
    z.looseObject({ display_name: z.optional(z.nullable(z.string())), avatar_url: z.optional(z.nullable(z.string())) }),
  ),
});

/** Error: 403 when the user is not a member. */
export const joinedMembers = endpoint<JoinedMembersArgs, z.infer<typeof joinedMembersResponse>>({
  name: "GET joined_members",
  method: "GET",
  spec: cs("#get_matrixclientv3roomsroomidjoined_members"),
  auth: true,
  rateLimited: false,
  idempotent: true,
  request: (a) => ({ path: `${CLIENT_V3}/rooms/${seg(a.roomId)}/joined_members` }),
  response: joinedMembersResponse,
});
