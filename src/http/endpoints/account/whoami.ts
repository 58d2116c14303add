// GET /_matrix/client/v3/account/whoami
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3accountwhoami
import * as z from "zod/mini";
import { CLIENT_V3, endpoint } from "../../endpoint.js";
import { cs } from "../../spec.js";

export const whoamiResponse = z.looseObject({
  user_id: z.string(),
  device_id: z.optional(z.string()),
  is_guest: z.optional(z.boolean()),
});

export const whoami = endpoint<void, z.infer<typeof whoamiResponse>>({
  name: "GET whoami",
  method: "GET",
  spec: cs("#get_matrixclientv3accountwhoami"),
  auth: true,
  rateLimited: true,
  idempotent: true,
  request: () => ({ path: `${CLIENT_V3}/account/whoami` }),
  response: whoamiResponse,
});
