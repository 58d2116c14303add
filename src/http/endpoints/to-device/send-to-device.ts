// PUT /_matrix/client/v3/sendToDevice/{eventType}/{txnId}
// https://spec.matrix.org/v1.19/client-server-api/#put_matrixclientv3sendtodeviceeventtypetxnid
import type * as z from "zod/mini";
import { CLIENT_V3, endpoint, seg } from "../../endpoint.js";
import { cs } from "../../spec.js";
import { emptyResponse } from "../schemas.js";

export interface SendToDeviceArgs {
  /** e.g. `m.room.encrypted` (Olm-wrapped room keys). */
  eventType: string;
  /** The caller's transaction ID, kept across resends. */
  txnId: string;
  /** User ID → device ID (or `*` for all) → content. */
  messages: Record<string, Record<string, Record<string, unknown>>>;
}

export const sendToDevice = endpoint<SendToDeviceArgs, z.infer<typeof emptyResponse>>({
  name: "PUT sendToDevice",
  method: "PUT",
  spec: cs("#put_matrixclientv3sendtodeviceeventtypetxnid"),
  auth: true,
  rateLimited: false,
  idempotent: true,
  request: (a) => ({ path: `${CLIENT_V3}/sendToDevice/${seg(a.eventType)}/${seg(a.txnId)}`, body: { messages: a.messages } }),
  response: emptyResponse,
});
