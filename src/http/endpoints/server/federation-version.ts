// GET /_matrix/federation/v1/version
// https://spec.matrix.org/v1.19/server-server-api/#get_matrixfederationv1version
import * as z from "zod/mini";
import { endpoint } from "../../endpoint.js";
import { SPEC } from "../../spec.js";

export const federationVersionResponse = z.looseObject({
  server: z.optional(z.looseObject({ name: z.optional(z.string()), version: z.optional(z.string()) })),
});

/**
 * The homeserver implementation's name and version. A Server-Server API endpoint, with no auth; a
 * monolith (Synapse, Dendrite) answers it on the client port too, a deployment behind a proxy may not.
 */
export const getFederationVersion = endpoint<void, z.infer<typeof federationVersionResponse>>({
  name: "GET federation version",
  method: "GET",
  spec: `${SPEC}/server-server-api/#get_matrixfederationv1version`,
  auth: false,
  rateLimited: false,
  idempotent: true,
  request: () => ({ path: "/_matrix/federation/v1/version" }),
  response: federationVersionResponse,
});
