/**
 * Key shapes shared by the /keys endpoints.
 * Spec: https://spec.matrix.org/v1.19/client-server-api/#definition-devicekeys
 */
import * as z from "zod/mini";

/** Signatures: user ID → `algorithm:key_id` → base64 signature. */
export const signatures = z.record(z.string(), z.record(z.string(), z.string()));

/** A device's identity keys, signed by the device's Ed25519 key. */
export const deviceKeys = z.looseObject({
  user_id: z.string(),
  device_id: z.string(),
  algorithms: z.array(z.string()),
  /** `algorithm:device_id` → base64 public key. */
  keys: z.record(z.string(), z.string()),
  signatures,
  unsigned: z.optional(z.looseObject({ device_display_name: z.optional(z.string()) })),
});
export type DeviceKeys = z.infer<typeof deviceKeys>;

/** A one-time or fallback key: a bare string (unsigned Curve25519) or a signed key object. */
export const oneTimeKey = z.union([z.string(), z.looseObject({ key: z.string(), fallback: z.optional(z.boolean()), signatures })]);

/** A cross-signing key (master, self-signing, user-signing). */
export const crossSigningKey = z.looseObject({
  user_id: z.string(),
  usage: z.array(z.string()),
  keys: z.record(z.string(), z.string()),
  signatures: z.optional(signatures),
});
