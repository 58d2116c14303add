// POST /_matrix/client/v3/register
// https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3register
import * as z from "zod/mini";
import { CLIENT_V3, endpoint } from "../../endpoint.js";
import { cs } from "../../spec.js";

/** User-interactive auth stage data; mxdb only speaks `m.login.dummy`. */
export interface DummyAuth {
  type: "m.login.dummy";
  session: string;
}

export interface RegisterArgs {
  username: string;
  password: string;
  deviceId?: string;
  initialDeviceDisplayName?: string;
  /** Left out on the first call; the server answers 401 with a `session` to put here. */
  auth?: DummyAuth;
}

export const registerResponse = z.looseObject({
  user_id: z.string(),
  /** Absent only with `inhibit_login`, which mxdb never sends. */
  access_token: z.optional(z.string()),
  device_id: z.optional(z.string()),
  refresh_token: z.optional(z.string()),
  expires_in_ms: z.optional(z.number()),
});
export type RegisterResponse = z.infer<typeof registerResponse>;

/**
 * The 401 body of a user-interactive auth step: no `errcode` on the first call, so HttpClient
 * reports it as an HttpError with this JSON as its text.
 * Spec: https://spec.matrix.org/v1.19/client-server-api/#user-interactive-authentication-api
 */
export const uiaResponse = z.looseObject({
  session: z.optional(z.string()),
  flows: z.array(z.looseObject({ stages: z.array(z.string()) })),
  params: z.optional(z.record(z.string(), z.unknown())),
  completed: z.optional(z.array(z.string())),
});
export type UiaResponse = z.infer<typeof uiaResponse>;

/** Register a user account (`kind=user`, the default). Use ../../register-flow.ts for the two-step dance. */
export const register = endpoint<RegisterArgs, RegisterResponse>({
  name: "POST register",
  method: "POST",
  spec: cs("#post_matrixclientv3register"),
  auth: false,
  rateLimited: true,
  idempotent: false,
  request: (a) => ({
    path: `${CLIENT_V3}/register`,
    body: {
      username: a.username,
      password: a.password,
      ...(a.deviceId !== undefined ? { device_id: a.deviceId } : {}),
      ...(a.initialDeviceDisplayName !== undefined ? { initial_device_display_name: a.initialDeviceDisplayName } : {}),
      ...(a.auth !== undefined ? { auth: a.auth } : {}),
    },
  }),
  response: registerResponse,
});
