// GET /_synapse/admin/v1/server_version
// https://element-hq.github.io/synapse/latest/admin_api/version_api.html (Synapse only, not in the Matrix spec)
import * as z from "zod/mini";
import { endpoint } from "../../endpoint.js";
import { ADMIN_V1, synapseDocs } from "./docs.js";

export const serverVersionResponse = z.looseObject({ server_version: z.string() });

/** Synapse's version; needs no access token. */
export const getServerVersion = endpoint<void, z.infer<typeof serverVersionResponse>>({
  name: "GET admin server_version",
  method: "GET",
  spec: synapseDocs("admin_api/version_api.html"),
  auth: false,
  rateLimited: false,
  idempotent: true,
  request: () => ({ path: `${ADMIN_V1}/server_version` }),
  response: serverVersionResponse,
});
