/**
 * Synapse admin calls the tests need: shared-secret registration and per-user rate-limit overrides.
 * All HTTP goes through src/http (HttpClient + endpoint values in src/http/endpoints/admin).
 */
import { randomBytes } from "node:crypto";
import { HttpClient } from "../http/client.js";
import { adminRegister, registrationMac } from "../http/endpoints/admin/register.js";
import { getRegisterNonce } from "../http/endpoints/admin/register-nonce.js";
import { getRateLimitOverride, setRateLimitOverride } from "../http/endpoints/admin/override-ratelimit.js";

export interface RegisteredUser {
  userId: string;
  accessToken: string;
  deviceId: string;
  password: string;
}

export interface RegisterOptions {
  password?: string;
  admin?: boolean;
  displayname?: string;
}

/** Register `localpart` with the shared secret: GET a nonce, then POST the HMAC'd registration. */
export async function registerWithSharedSecret(client: HttpClient, sharedSecret: string, localpart: string, options: RegisterOptions = {}): Promise<RegisteredUser> {
  // Never starting with "-": a CLI test passes it as `--password <value>`, which parseArgs would take for an option.
  const password = options.password ?? `pw${randomBytes(12).toString("base64url")}`;
  const admin = options.admin ?? false;
  const { nonce } = await client.send(getRegisterNonce, undefined);
  const mac = registrationMac(sharedSecret, nonce, localpart, password, admin);
  const res = await client.send(adminRegister, { nonce, username: localpart, password, admin, mac, ...(options.displayname !== undefined ? { displayname: options.displayname } : {}) });
  return { userId: res.user_id, accessToken: res.access_token, deviceId: res.device_id, password };
}

export interface RateLimitSetting {
  /** Whole actions per second (Synapse rejects fractions here); 0 with burstCount 0 lifts the limit. */
  messagesPerSecond: number;
  burstCount: number;
}

/** POST override_ratelimit as an admin; returns what Synapse stored. */
export async function overrideRateLimit(client: HttpClient, adminToken: string, userId: string, limit: RateLimitSetting): Promise<RateLimitSetting> {
  const admin = new HttpClient({ baseUrl: client.baseUrl, accessToken: adminToken });
  try {
    const res = await admin.send(setRateLimitOverride, { userId, messages_per_second: limit.messagesPerSecond, burst_count: limit.burstCount });
    return { messagesPerSecond: res.messages_per_second ?? limit.messagesPerSecond, burstCount: res.burst_count ?? limit.burstCount };
  } finally {
    await admin.close();
  }
}

/** The user's current override, or undefined when none is set. */
export async function readRateLimitOverride(client: HttpClient, adminToken: string, userId: string): Promise<RateLimitSetting | undefined> {
  const admin = new HttpClient({ baseUrl: client.baseUrl, accessToken: adminToken });
  try {
    const res = await admin.send(getRateLimitOverride, { userId });
    if (res.messages_per_second === undefined && res.burst_count === undefined) return undefined;
    return { messagesPerSecond: res.messages_per_second ?? 0, burstCount: res.burst_count ?? 0 };
  } finally {
    await admin.close();
  }
}
