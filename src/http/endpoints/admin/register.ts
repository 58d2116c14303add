// POST /_synapse/admin/v1/register
// https://element-hq.github.io/synapse/latest/admin_api/register_api.html (Synapse only, not in the Matrix spec)
import { hmac } from "@noble/hashes/hmac.js";
import { sha1 } from "@noble/hashes/legacy.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import * as z from "zod/mini";
import { endpoint } from "../../endpoint.js";
import { ADMIN_V1, synapseDocs } from "./docs.js";

export interface AdminRegisterArgs {
  nonce: string;
  username: string;
  password: string;
  admin: boolean;
  /** hex HMAC-SHA1, see registrationMac. */
  mac: string;
  displayname?: string;
}

/**
 * The register API's `mac`: hex HMAC-SHA1 keyed with the server's `registration_shared_secret`
 * over `nonce \0 username \0 password \0 ("admin" | "notadmin")` (user_type is not used here).
 * @noble/hashes computes it, so the admin endpoint works in every runtime.
 */
export function registrationMac(sharedSecret: string, nonce: string, username: string, password: string, admin: boolean): string {
  const message = [nonce, username, password, admin ? "admin" : "notadmin"].join("\0");
  return bytesToHex(hmac(sha1, utf8ToBytes(sharedSecret), utf8ToBytes(message)));
}

export const adminRegisterResponse = z.looseObject({
  user_id: z.string(),
  access_token: z.string(),
  device_id: z.string(),
  home_server: z.optional(z.string()),
});

/** Not idempotent: the nonce is single-use and a resend would meet M_USER_IN_USE. */
export const adminRegister = endpoint<AdminRegisterArgs, z.infer<typeof adminRegisterResponse>>({
  name: "POST admin register",
  method: "POST",
  spec: synapseDocs("admin_api/register_api.html"),
  auth: false,
  rateLimited: false,
  idempotent: false,
  request: (a) => ({
    path: `${ADMIN_V1}/register`,
    body: { nonce: a.nonce, username: a.username, password: a.password, admin: a.admin, mac: a.mac, ...(a.displayname !== undefined ? { displayname: a.displayname } : {}) },
  }),
  response: adminRegisterResponse,
});
