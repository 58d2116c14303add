// POST /_matrix/client/v3/keys/claim
// https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3keysclaim
import * as z from "zod/mini";
import { CLIENT_V3, endpoint } from "../../endpoint.js";
import { cs } from "../../spec.js";
import { oneTimeKey } from "./device-keys.js";

export interface ClaimKeysArgs {
  /** User ID → device ID → key algorithm (e.g. `signed_curve25519`). */
  oneTimeKeys: Record<string, Record<string, string>>;
  timeout?: number;
}

export const claimKeysResponse = z.looseObject({
  failures: z.optional(z.record(z.string(), z.looseObject({}))),
  /** User ID → device ID → `algorithm:key_id` → key. A device with no key left is absent (or empty). */
  one_time_keys: z.record(z.string(), z.record(z.string(), z.record(z.string(), oneTimeKey))),
});

export const claimKeys = endpoint<ClaimKeysArgs, z.infer<typeof claimKeysResponse>>({
  name: "POST keys/claim",
  method: "POST",
  spec: cs("#post_matrixclientv3keysclaim"),
  auth: true,
  rateLimited: false,
  // Each success uses up a one-time key: a blind resend would burn another.
  idempotent: false,
  request: (a) => ({
    path: `${CLIENT_V3}/keys/claim`,
    body: { one_time_keys: a.oneTimeKeys, ...(a.timeout !== undefined ? { timeout: a.timeout } : {}) },
  }),
  response: claimKeysResponse,
});
