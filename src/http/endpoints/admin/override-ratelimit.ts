// POST|GET|DELETE /_synapse/admin/v1/users/{userId}/override_ratelimit
// https://element-hq.github.io/synapse/latest/admin_api/user_admin_api.html#override-ratelimiting-for-users (Synapse only)
import * as z from "zod/mini";
import { endpoint, seg } from "../../endpoint.js";
import { ADMIN_V1, synapseDocs } from "./docs.js";

const DOCS = synapseDocs("admin_api/user_admin_api.html#override-ratelimiting-for-users");

export interface RateLimitOverride {
  /** Actions per second; 0 lifts the limit for this user. Synapse accepts whole numbers only. */
  messages_per_second: number;
  /** Actions allowed before limiting starts; 0 lifts the limit. */
  burst_count: number;
}

export const rateLimitOverrideResponse = z.looseObject({
  messages_per_second: z.optional(z.number()),
  burst_count: z.optional(z.number()),
});

const path = (userId: string) => `${ADMIN_V1}/users/${seg(userId)}/override_ratelimit`;

/** Set a per-user override of rc_message (and the other per-user limiters that honour it). Needs an admin token. */
export const setRateLimitOverride = endpoint<{ userId: string } & RateLimitOverride, z.infer<typeof rateLimitOverrideResponse>>({
  name: "POST admin override_ratelimit",
  method: "POST",
  spec: DOCS,
  auth: true,
  rateLimited: false,
  idempotent: true,
  request: (a) => ({ path: path(a.userId), body: { messages_per_second: a.messages_per_second, burst_count: a.burst_count } }),
  response: rateLimitOverrideResponse,
});

/** The user's override, or `{}` when none is set. */
export const getRateLimitOverride = endpoint<{ userId: string }, z.infer<typeof rateLimitOverrideResponse>>({
  name: "GET admin override_ratelimit",
  method: "GET",
  spec: DOCS,
  auth: true,
  rateLimited: false,
  idempotent: true,
  request: (a) => ({ path: path(a.userId) }),
  response: rateLimitOverrideResponse,
});

/** Remove the override: the server's configured limits apply again. */
export const deleteRateLimitOverride = endpoint<{ userId: string }, Record<string, unknown>>({
  name: "DELETE admin override_ratelimit",
  method: "DELETE",
  spec: DOCS,
  auth: true,
  rateLimited: false,
  idempotent: true,
  request: (a) => ({ path: path(a.userId) }),
  response: z.looseObject({}),
});
