// GET /_matrix/client/v3/directory/room/{roomAlias}
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3directoryroomroomalias
import * as z from "zod/mini";
import { CLIENT_V3, endpoint, seg } from "../../endpoint.js";
import { cs } from "../../spec.js";

export interface ResolveAliasArgs {
  /** `#name:server`; the `#` is percent-encoded in the path. */
  roomAlias: string;
}

export const resolveAliasResponse = z.looseObject({
  room_id: z.string(),
  /** Servers that know the alias: good `via` candidates for a join. */
  servers: z.optional(z.array(z.string())),
});

/** Errors: 404 `M_NOT_FOUND`, 400 `M_INVALID_PARAM`. */
export const resolveAlias = endpoint<ResolveAliasArgs, z.infer<typeof resolveAliasResponse>>({
  name: "GET directory/room",
  method: "GET",
  spec: cs("#get_matrixclientv3directoryroomroomalias"),
  // The spec declares no security for this GET (unlike PUT/DELETE on the same path).
  auth: false,
  rateLimited: false,
  idempotent: true,
  request: (a) => ({ path: `${CLIENT_V3}/directory/room/${seg(a.roomAlias)}` }),
  response: resolveAliasResponse,
});
