// GET /health
// https://element-hq.github.io/synapse/latest/reverse_proxy.html#health-check-endpoint (Synapse only, not in the Matrix spec)
import { endpoint } from "../../endpoint.js";
import { synapseDocs } from "./docs.js";

/** Synapse answers the text "OK" once its listeners are up; the body is returned as bytes to decode. */
export const getHealth = endpoint<void, Uint8Array>({
  name: "GET health",
  method: "GET",
  spec: synapseDocs("reverse_proxy.html#health-check-endpoint"),
  auth: false,
  rateLimited: false,
  idempotent: true,
  request: () => ({ path: "/health" }),
  response: "bytes",
});
