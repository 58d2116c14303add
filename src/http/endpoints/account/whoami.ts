// GET /_matrix/client/v3/account/whoami
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3accountwhoami
import { z } from "zod";
import { CLIENT_V3, endpoint } from "../../endpoint.js";
import { cs } from "../../spec.js";

export const whoamiResponse = z.looseObject({
  user_id: z.string(),
  device_id: z.string().optional(),
  is_guest: z.boolean().optional(),
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
