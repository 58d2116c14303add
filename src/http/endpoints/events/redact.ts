// PUT /_matrix/client/v3/rooms/{roomId}/redact/{eventId}/{txnId}
// https://spec.matrix.org/v1.19/client-server-api/#put_matrixclientv3roomsroomidredacteventidtxnid
import * as z from "zod/mini";
import { CLIENT_V3, endpoint, seg } from "../../endpoint.js";
import { cs } from "../../spec.js";

export interface RedactArgs {
  roomId: string;
  eventId: string;
  /** The caller's transaction ID, kept across resends (see ./send.ts). */
  txnId: string;
  reason?: string;
}

/** The spec does not list `event_id` as required here (unlike send and state PUT). */
export const redactResponse = z.looseObject({ event_id: z.optional(z.string()) });

/** Redacting a custom-type state event leaves its content `{}` (the room version's redaction rules). */
export const redact = endpoint<RedactArgs, z.infer<typeof redactResponse>>({
  name: "PUT redact",
  method: "PUT",
  spec: cs("#put_matrixclientv3roomsroomidredacteventidtxnid"),
  auth: true,
  rateLimited: false,
  idempotent: true,
  request: (a) => ({
    path: `${CLIENT_V3}/rooms/${seg(a.roomId)}/redact/${seg(a.eventId)}/${seg(a.txnId)}`,
    body: a.reason !== undefined ? { reason: a.reason } : {},
  }),
  response: redactResponse,
});
