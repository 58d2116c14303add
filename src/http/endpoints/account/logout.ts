// POST /_matrix/client/v3/logout
// https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3logout
import type * as z from "zod/mini";
import { CLIENT_V3, endpoint } from "../../endpoint.js";
import { cs } from "../../spec.js";
import { emptyResponse } from "../schemas.js";

/** Invalidates the access token and deletes the device (and its end-to-end keys) from the server. */
export const logout = endpoint<void, z.infer<typeof emptyResponse>>({
  name: "POST logout",
  method: "POST",
  spec: cs("#post_matrixclientv3logout"),
  auth: true,
  rateLimited: false,
  // A resend after success meets a dead token (401 M_UNKNOWN_TOKEN): not silently repeatable.
  idempotent: false,
  request: () => ({ path: `${CLIENT_V3}/logout` }),
  response: emptyResponse,
});
