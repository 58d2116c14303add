// POST /_matrix/client/v3/keys/device_signing/upload
// https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3keysdevice_signingupload
// POST /_matrix/client/v3/keys/signatures/upload
// https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3keyssignaturesupload
import * as z from "zod/mini";
import { CLIENT_V3, endpoint } from "../../endpoint.js";
import { cs } from "../../spec.js";

/** The user-interactive auth stage mxdb completes: m.login.password with the configured password. */
export interface PasswordAuth {
  type: "m.login.password";
  identifier: { type: "m.id.user"; user: string };
  password: string;
  session?: string;
}

export interface DeviceSigningUploadArgs {
  /** master_key, self_signing_key, user_signing_key as built by src/crypto/cross-signing.ts. */
  keys: Record<string, unknown>;
  /** Absent on the first try; the server answers 401 with a UIA session when it wants one. */
  auth?: PasswordAuth;
}

export const deviceSigningUpload = endpoint<DeviceSigningUploadArgs, Record<string, unknown>>({
  name: "POST keys/device_signing/upload",
  method: "POST",
  spec: cs("#post_matrixclientv3keysdevice_signingupload"),
  auth: true,
  rateLimited: false,
  // The same keys again are accepted unchanged (Synapse answers 200 without auth).
  idempotent: true,
  request: (a) => ({ path: `${CLIENT_V3}/keys/device_signing/upload`, body: { ...a.keys, ...(a.auth ? { auth: a.auth } : {}) } }),
  response: z.looseObject({}),
});

export const signaturesUploadResponse = z.looseObject({
  /** User ID → key ID → why that signature was refused. */
  failures: z.optional(z.record(z.string(), z.record(z.string(), z.looseObject({})))),
});

/** User ID → device ID (or cross-signing public key) → the signed object. */
export const signaturesUpload = endpoint<Record<string, unknown>, z.infer<typeof signaturesUploadResponse>>({
  name: "POST keys/signatures/upload",
  method: "POST",
  spec: cs("#post_matrixclientv3keyssignaturesupload"),
  auth: true,
  rateLimited: false,
  idempotent: true,
  request: (a) => ({ path: `${CLIENT_V3}/keys/signatures/upload`, body: a }),
  response: signaturesUploadResponse,
});
