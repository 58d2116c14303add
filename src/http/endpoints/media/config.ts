// GET /_matrix/client/v1/media/config (legacy: GET /_matrix/media/v3/config, before spec v1.11)
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv1mediaconfig
import * as z from "zod/mini";
import { CLIENT_V1, endpoint, MEDIA_V3 } from "../../endpoint.js";
import { cs } from "../../spec.js";

export const mediaConfigResponse = z.looseObject({
  /** The largest upload the server accepts, in bytes; absent when the server does not say. */
  "m.upload.size": z.optional(z.number()),
});

/** `legacy`: the server predates authenticated media (no v1.11 in /versions, src/http/capabilities.ts). */
export const mediaConfig = endpoint<{ legacy?: boolean } | void, z.infer<typeof mediaConfigResponse>>({
  name: "GET media/config",
  method: "GET",
  spec: cs("#get_matrixclientv1mediaconfig"),
  auth: true,
  rateLimited: true,
  idempotent: true,
  request: (a) => ({ path: a?.legacy ? `${MEDIA_V3}/config` : `${CLIENT_V1}/media/config` }),
  response: mediaConfigResponse,
});
