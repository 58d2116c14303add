// GET /_matrix/client/v3/keys/changes
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3keyschanges
import * as z from "zod/mini";
import { CLIENT_V3, endpoint } from "../../endpoint.js";
import { cs } from "../../spec.js";

export interface KeyChangesArgs {
  /** A sync token: changes after this point. */
  from: string;
  /** A later sync token, usually the current `next_batch`. */
  to: string;
}

export const keyChangesResponse = z.looseObject({
  changed: z.optional(z.array(z.string())),
  left: z.optional(z.array(z.string())),
});

export const keyChanges = endpoint<KeyChangesArgs, z.infer<typeof keyChangesResponse>>({
  name: "GET keys/changes",
  method: "GET",
  spec: cs("#get_matrixclientv3keyschanges"),
  auth: true,
  rateLimited: false,
  idempotent: true,
  request: (a) => ({ path: `${CLIENT_V3}/keys/changes`, query: { from: a.from, to: a.to } }),
  response: keyChangesResponse,
});
