// POST /_synapse/admin/v1/federation/destinations/{destination}/reset_connection
// https://element-hq.github.io/synapse/latest/usage/administration/admin_api/federation.html#reset-connection-timeout (Synapse only)
import * as z from "zod/mini";
import { endpoint, seg } from "../../endpoint.js";
import { ADMIN_V1, synapseDocs } from "./docs.js";

/**
 * Forget a destination's backoff after failed sends and wake its queue: Synapse then sends what it
 * held back at once. Errors: 404 (unknown destination), 400 (no backoff to reset). Needs an admin token.
 */
export const resetConnection = endpoint<{ destination: string }, Record<string, unknown>>({
  name: "POST admin reset_connection",
  method: "POST",
  spec: synapseDocs("usage/administration/admin_api/federation.html#reset-connection-timeout"),
  auth: true,
  rateLimited: false,
  idempotent: true,
  request: (a) => ({ path: `${ADMIN_V1}/federation/destinations/${seg(a.destination)}/reset_connection`, body: {} }),
  response: z.looseObject({}),
});
