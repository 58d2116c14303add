// GET /_matrix/client/v1/media/config
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv1mediaconfig
import * as z from "zod/mini";
import { CLIENT_V1, endpoint } from "../../endpoint.js";
import { cs } from "../../spec.js";

export const mediaConfigResponse = z.looseObject({
  /** The largest upload the server accepts, in bytes; absent when the server does not say. */
  "m.upload.size": z.optional(z.number()),
});

export const mediaConfig = endpoint<void, z.infer<typeof mediaConfigResponse>>({
  name: "GET media/config",
  method: "GET",
  spec: cs("#get_matrixclientv1mediaconfig"),
  auth: true,
  rateLimited: true,
  idempotent: true,
  request: () => ({ path: `${CLIENT_V1}/media/config` }),
  response: mediaConfigResponse,
});
