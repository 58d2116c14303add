// POST|GET /_matrix/client/v3/room_keys/version
// https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3room_keysversion
import * as z from "zod/mini";
import { CLIENT_V3, endpoint } from "../../endpoint.js";
import { cs } from "../../spec.js";

export interface CreateBackupVersionArgs {
  algorithm: string;
  /** For m.megolm_backup.v1.curve25519-aes-sha2: {public_key, signatures}. */
  authData: Record<string, unknown>;
}

/** Makes a new backup version, which becomes the current one: never resent blindly. */
export const createBackupVersion = endpoint<CreateBackupVersionArgs, { version: string }>({
  name: "POST room_keys/version",
  method: "POST",
  spec: cs("#post_matrixclientv3room_keysversion"),
  auth: true,
  rateLimited: false,
  idempotent: false,
  request: (a) => ({ path: `${CLIENT_V3}/room_keys/version`, body: { algorithm: a.algorithm, auth_data: a.authData } }),
  response: z.looseObject({ version: z.string() }),
});

export const backupVersionResponse = z.looseObject({
  algorithm: z.string(),
  auth_data: z.record(z.string(), z.unknown()),
  count: z.number(),
  etag: z.string(),
  version: z.string(),
});

/** The current backup; 404 M_NOT_FOUND when there is none. */
export const getBackupVersion = endpoint<void, z.infer<typeof backupVersionResponse>>({
  name: "GET room_keys/version",
  method: "GET",
  spec: cs("#get_matrixclientv3room_keysversion"),
  auth: true,
  rateLimited: false,
  idempotent: true,
  request: () => ({ path: `${CLIENT_V3}/room_keys/version` }),
  response: backupVersionResponse,
});
