/**
 * Olm decryption of an m.room.encrypted to-device event, and the payload checks.
 * https://spec.matrix.org/v1.19/client-server-api/#mmolmv1curve25519-aes-sha2
 *
 *   1. take ciphertext[our curve25519]                                   -> NotForUsError
 *   2. type 0 (pre-key): an existing session that matches_inbound decrypts it; otherwise create an
 *      inbound session, decrypt, and only then remove the used one-time key and persist both;
 *      type 1: existing sessions only, otherwise the message is invalid  -> OlmDecryptionError
 *   3. checkPayload: `sender` is the event sender                        -> SenderMismatchError
 *                    `recipient` is us                                   -> RecipientMismatchError
 *                    `recipient_keys.ed25519` is our ed25519 key         -> RecipientKeyMismatchError
 *   4. checkSenderDevice: the device keys/query gave for the sender with curve25519 == sender_key
 *      exists                                                            -> UnknownSenderDeviceError
 *      and its ed25519 == `keys.ed25519`; `sender_device_keys`, if sent, are validly signed and
 *      equal to it                                                       -> SenderKeyMismatchError
 */
import { OLM_ALGORITHM } from "../account.js";
import { BackendError, type OlmSessionObj } from "../backend.js";
import type { CryptoContext } from "../context.js";
import { checkDeviceKeys, type DeviceRecord } from "../devices.js";
import {
  MalformedEventError,
  NotForUsError,
  OlmDecryptionError,
  RecipientKeyMismatchError,
  RecipientMismatchError,
  SenderKeyMismatchError,
  SenderMismatchError,
  UnknownSenderDeviceError,
  UnsupportedAlgorithmError,
} from "../errors.js";

export interface OlmPayload {
  type: string;
  content: Record<string, unknown>;
  sender: string;
  recipient: string;
  recipient_keys: { ed25519: string };
  keys: { ed25519: string };
  sender_device?: string;
  sender_device_keys?: Record<string, unknown>;
}

export interface OlmDecrypted {
  senderKey: string;
  payload: OlmPayload;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

export async function olmDecrypt(ctx: CryptoContext, event: { sender: string; content: unknown }): Promise<OlmDecrypted> {
  const c = event.content;
  if (!isObj(c)) throw new MalformedEventError("content is not an object");
  if (c.algorithm !== OLM_ALGORITHM) throw new UnsupportedAlgorithmError(c.algorithm);
  const senderKey = c.sender_key;
  if (typeof senderKey !== "string" || !isObj(c.ciphertext)) throw new MalformedEventError("sender_key/ciphertext");
  // 1.
  const mine = c.ciphertext[ctx.ids.curve25519];
  if (!isObj(mine)) throw new NotForUsError();
  const { type, body } = mine;
  if ((type !== 0 && type !== 1) || typeof body !== "string") throw new MalformedEventError("ciphertext type/body");
  // 2.
  const plaintext = (await decryptWithExisting(ctx, senderKey, type, body)) ?? (await decryptNewInbound(ctx, senderKey, type, body));
  // 3.
  let payload: unknown;
  try {
    payload = JSON.parse(plaintext);
  } catch {
    throw new MalformedEventError("olm plaintext is not JSON");
  }
  return { senderKey, payload: checkPayload(ctx, event.sender, payload) };
}

async function decryptWithExisting(ctx: CryptoContext, senderKey: string, type: 0 | 1, body: string): Promise<string | undefined> {
  for (const rec of await ctx.olm.list(senderKey)) {
    const s = ctx.olm.unpickle(rec);
    try {
      if (type === 0 && !s.matchesInbound(senderKey, body)) continue;
      let plaintext: string;
      try {
        plaintext = s.decrypt(type, body);
      } catch (e) {
        // A matching pre-key session that fails is fatal for this message; type 1 tries the next one.
        if (type === 0) throw new OlmDecryptionError(senderKey, "matching session failed", e);
        continue;
      }
      await ctx.olm.save(senderKey, s, ctx.now(), true);
      return plaintext;
    } finally {
      s.free();
    }
  }
  return undefined;
}

async function decryptNewInbound(ctx: CryptoContext, senderKey: string, type: 0 | 1, body: string): Promise<string> {
  if (type === 1) throw new OlmDecryptionError(senderKey, "no session decrypts this message");
  let s: OlmSessionObj;
  try {
    s = ctx.account.createInboundSession(senderKey, body);
  } catch (e) {
    throw new OlmDecryptionError(senderKey, e instanceof BackendError ? e.message : "cannot create inbound session", e);
  }
  try {
    const plaintext = s.decrypt(0, body);
    // Persist the session and forget the one-time key only after a successful decrypt (spec).
    ctx.account.removeOneTimeKeys(s);
    ctx.saveAccount();
    await ctx.olm.save(senderKey, s, ctx.now(), true);
    return plaintext;
  } catch (e) {
    throw e instanceof OlmDecryptionError ? e : new OlmDecryptionError(senderKey, "new inbound session failed", e);
  } finally {
    s.free();
  }
}

/** Step 3: fields that need no device list. */
export function checkPayload(ctx: CryptoContext, eventSender: string, p: unknown): OlmPayload {
  if (!isObj(p) || typeof p.type !== "string" || !isObj(p.content)) throw new MalformedEventError("payload type/content");
  if (p.sender !== eventSender) throw new SenderMismatchError(eventSender, p.sender);
  if (p.recipient !== ctx.userId) throw new RecipientMismatchError(p.recipient);
  if (!isObj(p.recipient_keys) || p.recipient_keys.ed25519 !== ctx.ids.ed25519) throw new RecipientKeyMismatchError();
  if (!isObj(p.keys) || typeof p.keys.ed25519 !== "string") throw new MalformedEventError("payload keys.ed25519");
  return p as unknown as OlmPayload;
}

/** Step 4: the sender's device as keys/query returned it; throws if it is unknown or disagrees. */
export function checkSenderDevice(ctx: CryptoContext, sender: string, d: OlmDecrypted): DeviceRecord {
  const device = ctx.devices.byCurve(sender, d.senderKey);
  if (!device) throw new UnknownSenderDeviceError(sender, d.senderKey);
  if (device.ed25519 !== d.payload.keys.ed25519) {
    throw new SenderKeyMismatchError(`keys.ed25519 is not the ed25519 key of ${sender}/${device.deviceId}`);
  }
  const sdk = d.payload.sender_device_keys;
  if (sdk !== undefined) {
    const checked = isObj(sdk) ? checkDeviceKeys(ctx.backend, sender, String(sdk.device_id), sdk, device.ed25519) : undefined;
    if (!checked || checked instanceof Error || checked.curve25519 !== d.senderKey || checked.deviceId !== device.deviceId) {
      throw new SenderKeyMismatchError("sender_device_keys do not match the known device");
    }
  }
  return device;
}
