/**
 * Outgoing requests, the "pull" half of the sans-IO machine (docs/STYLE.md "Requests are values").
 * The caller sends each one with its HTTP layer and calls markRequestAsSent(id, responseBody).
 *   keys_upload -> POST /_matrix/client/v3/keys/upload   https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3keysupload
 *   keys_query  -> POST /_matrix/client/v3/keys/query    https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3keysquery
 *   keys_claim  -> POST /_matrix/client/v3/keys/claim    https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3keysclaim
 *   to_device   -> PUT  /_matrix/client/v3/sendToDevice/{eventType}/{txnId}
 *                  https://spec.matrix.org/v1.19/client-server-api/#put_matrixclientv3sendtodeviceeventtypetxnid
 */
import { toBase64 } from "./bytes.js";
import type { RandomBytes } from "./store.js";

export type OutgoingRequest =
  | { id: string; kind: "keys_upload"; body: Record<string, unknown> }
  | { id: string; kind: "keys_query"; body: { device_keys: Record<string, string[]>; timeout?: number } }
  | { id: string; kind: "keys_claim"; body: { one_time_keys: Record<string, Record<string, string>>; timeout?: number } }
  | { id: string; kind: "to_device"; eventType: string; txnId: string; body: { messages: Record<string, Record<string, unknown>> } };

export type ToDeviceRequest = Extract<OutgoingRequest, { kind: "to_device" }>;

/** Unique, unguessable ids: a request id doubles as the to-device txnId, reused on every retry. */
export function newId(random: RandomBytes, prefix: string): string {
  return prefix + toBase64(random(12), { url: true });
}

/** Synapse caps a sendToDevice body; keep each request well under it. */
export const MAX_TO_DEVICE_MESSAGES = 250;

export function toDeviceRequests(
  random: RandomBytes,
  eventType: string,
  messages: { userId: string; deviceId: string; content: Record<string, unknown> }[],
): ToDeviceRequest[] {
  const out: ToDeviceRequest[] = [];
  for (let i = 0; i < messages.length; i += MAX_TO_DEVICE_MESSAGES) {
    const body: ToDeviceRequest["body"] = { messages: {} };
    for (const m of messages.slice(i, i + MAX_TO_DEVICE_MESSAGES)) {
      (body.messages[m.userId] ??= {})[m.deviceId] = m.content;
    }
    const id = newId(random, "td_");
    out.push({ id, kind: "to_device", eventType, txnId: id, body });
  }
  return out;
}
