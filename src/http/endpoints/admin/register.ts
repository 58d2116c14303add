// POST /_synapse/admin/v1/register
// https://element-hq.github.io/synapse/latest/admin_api/register_api.html (Synapse only, not in the Matrix spec)
import { hmac } from "@noble/hashes/hmac";
import { sha1 } from "@noble/hashes/legacy";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils";
import { z } from "zod";
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
 * (@noble/hashes 1.8 keeps SHA-1 in its "legacy" module; "@noble/hashes/sha1" is a deprecated alias.)
 */
export function registrationMac(sharedSecret: string, nonce: string, username: string, password: string, admin: boolean): string {
  const message = [nonce, username, password, admin ? "admin" : "notadmin"].join("\0");
  return bytesToHex(hmac(sha1, utf8ToBytes(sharedSecret), utf8ToBytes(message)));
}

export const adminRegisterResponse = z.looseObject({
  user_id: z.string(),
  access_token: z.string(),
  device_id: z.string(),
  home_server: z.string().optional(),
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
