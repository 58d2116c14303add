// POST /_matrix/client/v3/keys/query
// https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3keysquery
import * as z from "zod/mini";
import { CLIENT_V3, endpoint } from "../../endpoint.js";
import { cs } from "../../spec.js";
import { crossSigningKey, deviceKeys } from "./device-keys.js";

export interface QueryKeysArgs {
  /** User ID → device IDs; an empty list asks for every device of the user. */
  deviceKeys: Record<string, string[]>;
  /** How long to wait for remote servers, in ms (server default 10 s). */
  timeout?: number;
}

export const queryKeysResponse = z.looseObject({
  /** Remote servers that could not be reached → why. */
  failures: z.optional(z.record(z.string(), z.looseObject({}))),
  /** User ID → device ID → the device's keys. */
  device_keys: z.optional(z.record(z.string(), z.record(z.string(), deviceKeys))),
  master_keys: z.optional(z.record(z.string(), crossSigningKey)),
  self_signing_keys: z.optional(z.record(z.string(), crossSigningKey)),
  user_signing_keys: z.optional(z.record(z.string(), crossSigningKey)),
});

export const queryKeys = endpoint<QueryKeysArgs, z.infer<typeof queryKeysResponse>>({
  name: "POST keys/query",
  method: "POST",
  spec: cs("#post_matrixclientv3keysquery"),
  auth: true,
  rateLimited: false,
  // A read, though a POST.
  idempotent: true,
  request: (a) => ({
    path: `${CLIENT_V3}/keys/query`,
    body: { device_keys: a.deviceKeys, ...(a.timeout !== undefined ? { timeout: a.timeout } : {}) },
  }),
  response: queryKeysResponse,
});
