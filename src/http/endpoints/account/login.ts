// POST /_matrix/client/v3/login
// https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3login
import * as z from "zod/mini";
import { CLIENT_V3, endpoint } from "../../endpoint.js";
import { cs } from "../../spec.js";

export interface LoginArgs {
  /** The localpart or the full user ID (`@name:server`); the server accepts both. */
  user: string;
  password: string;
  /** Reuse a persisted device so its end-to-end keys stay valid; omit to get a new device. */
  deviceId?: string;
  initialDeviceDisplayName?: string;
}

export const loginResponse = z.looseObject({
  user_id: z.string(),
  access_token: z.string(),
  device_id: z.string(),
  refresh_token: z.optional(z.string()),
  expires_in_ms: z.optional(z.number()),
  well_known: z.optional(z.looseObject({})),
});
export type LoginResponse = z.infer<typeof loginResponse>;

/**
 * Password login with a user identifier (`m.id.user`), the form the spec recommends over the
 * deprecated top-level `user` field. Since v1.15 this is the "legacy" API beside OAuth 2.0.
 * Errors: 403 `M_FORBIDDEN` (wrong password), `M_USER_DEACTIVATED`; 400; 429.
 */
export const login = endpoint<LoginArgs, LoginResponse>({
  name: "POST login",
  method: "POST",
  spec: cs("#post_matrixclientv3login"),
  auth: false,
  rateLimited: true,
  // Each success makes a new access token (and, without device_id, a new device).
  idempotent: false,
  request: (a) => ({
    path: `${CLIENT_V3}/login`,
    body: {
      type: "m.login.password",
      identifier: { type: "m.id.user", user: a.user },
      password: a.password,
      ...(a.deviceId !== undefined ? { device_id: a.deviceId } : {}),
      ...(a.initialDeviceDisplayName !== undefined ? { initial_device_display_name: a.initialDeviceDisplayName } : {}),
    },
  }),
  response: loginResponse,
});
