// GET /_synapse/admin/v1/register
// https://element-hq.github.io/synapse/latest/admin_api/register_api.html (Synapse only, not in the Matrix spec)
import * as z from "zod/mini";
import { endpoint } from "../../endpoint.js";
import { ADMIN_V1, synapseDocs } from "./docs.js";

export const registerNonceResponse = z.looseObject({ nonce: z.string() });

/** A one-time nonce for shared-secret registration; Synapse keeps it for 60 s. */
export const getRegisterNonce = endpoint<void, z.infer<typeof registerNonceResponse>>({
  name: "GET admin register nonce",
  method: "GET",
  spec: synapseDocs("admin_api/register_api.html"),
  auth: false,
  rateLimited: false,
  idempotent: true,
  request: () => ({ path: `${ADMIN_V1}/register` }),
  response: registerNonceResponse,
});
