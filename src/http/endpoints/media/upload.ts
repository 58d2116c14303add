// POST /_matrix/media/v3/upload
// https://spec.matrix.org/v1.19/client-server-api/#post_matrixmediav3upload
import * as z from "zod/mini";
import { endpoint, MEDIA_V3 } from "../../endpoint.js";
import { cs } from "../../spec.js";

export interface UploadArgs {
  /** The exact bytes to store (for an encrypted attachment: the ciphertext). */
  bytes: Uint8Array;
  /** Sent as the Content-Type header (`application/octet-stream` for ciphertext). */
  contentType: string;
  filename?: string;
}

export const uploadResponse = z.looseObject({
  /** `mxc://<server-name>/<media-id>`. */
  content_uri: z.string(),
});

/**
 * Upload stays under /_matrix/media/v3 (only the download side moved to /_matrix/client/v1 in
 * v1.11). Errors: 403 `M_FORBIDDEN`, 413 `M_TOO_LARGE` (see ./config.ts), 429.
 */
export const upload = endpoint<UploadArgs, z.infer<typeof uploadResponse>>({
  name: "POST media/upload",
  method: "POST",
  spec: cs("#post_matrixmediav3upload"),
  auth: true,
  rateLimited: true,
  // Each success stores a new media item.
  idempotent: false,
  request: (a) => ({
    path: `${MEDIA_V3}/upload`,
    query: { filename: a.filename },
    body: { raw: a.bytes, contentType: a.contentType },
  }),
  response: uploadResponse,
});
