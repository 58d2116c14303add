// POST /_matrix/client/v3/keys/upload
// https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3keysupload
import * as z from "zod/mini";
import { CLIENT_V3, endpoint } from "../../endpoint.js";
import { cs } from "../../spec.js";

/** The request body, with the spec's field names (sent as is); every part is optional. */
export interface UploadKeysArgs {
  device_keys?: Record<string, unknown>;
  /** `algorithm:key_id` → key (e.g. `signed_curve25519:AAAAHg` → `{key, signatures}`). */
  one_time_keys?: Record<string, unknown>;
  fallback_keys?: Record<string, unknown>;
}

export const uploadKeysResponse = z.looseObject({
  /** Algorithm → how many unclaimed one-time keys the server holds for this device. */
  one_time_key_counts: z.record(z.string(), z.number()),
});

export const uploadKeys = endpoint<UploadKeysArgs, z.infer<typeof uploadKeysResponse>>({
  name: "POST keys/upload",
  method: "POST",
  spec: cs("#post_matrixclientv3keysupload"),
  auth: true,
  rateLimited: false,
  // Uploading the same keys again is accepted unchanged; a key ID reused with other content is a 400.
  idempotent: true,
  request: (a) => ({ path: `${CLIENT_V3}/keys/upload`, body: a }),
  response: uploadKeysResponse,
});
