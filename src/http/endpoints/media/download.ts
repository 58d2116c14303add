// GET /_matrix/client/v1/media/download/{serverName}/{mediaId} (legacy: /_matrix/media/v3/download/..., before v1.11)
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv1mediadownloadservernamemediaid
import { CLIENT_V1, endpoint, MEDIA_V3, seg } from "../../endpoint.js";
import { cs } from "../../spec.js";

export interface DownloadArgs {
  serverName: string;
  mediaId: string;
  /** How long the server may wait for remote media to arrive, in ms. */
  timeoutMs?: number;
  /** The server predates authenticated media (no v1.11 in /versions): the deprecated unauthenticated path. */
  legacy?: boolean;
}

/** Split `mxc://server/id` into download args; undefined for anything else. */
export function parseMxc(uri: string): DownloadArgs | undefined {
  const m = /^mxc:\/\/([^/]+)\/([^/]+)$/.exec(uri);
  return m ? { serverName: m[1]!, mediaId: m[2]! } : undefined;
}

/**
 * Authenticated download (v1.11, MSC3916): the legacy /_matrix/media/v3/download is deprecated
 * and Synapse answers 404 there for media uploaded since authenticated media became its default.
 * The answer is the stored bytes, returned as they arrived. Errors: 404 `M_NOT_FOUND`, 429, 502, 504.
 */
export const download = endpoint<DownloadArgs, Uint8Array>({
  name: "GET media/download",
  method: "GET",
  spec: cs("#get_matrixclientv1mediadownloadservernamemediaid"),
  auth: true,
  rateLimited: true,
  idempotent: true,
  request: (a) => ({
    path: `${a.legacy ? MEDIA_V3 : `${CLIENT_V1}/media`}/download/${seg(a.serverName)}/${seg(a.mediaId)}`,
    query: { timeout_ms: a.timeoutMs },
  }),
  response: "bytes",
});
