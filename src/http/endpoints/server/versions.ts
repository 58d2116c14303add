// GET /_matrix/client/versions
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientversions
import * as z from "zod/mini";
import { endpoint } from "../../endpoint.js";
import { cs } from "../../spec.js";

export const versionsResponse = z.looseObject({
  versions: z.array(z.string()),
  unstable_features: z.optional(z.record(z.string(), z.boolean())),
});

export const getVersions = endpoint<void, z.infer<typeof versionsResponse>>({
  name: "GET versions",
  method: "GET",
  spec: cs("#get_matrixclientversions"),
  auth: false,
  rateLimited: false,
  idempotent: true,
  request: () => ({ path: "/_matrix/client/versions" }),
  response: versionsResponse,
});
