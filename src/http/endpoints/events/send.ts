// PUT /_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}
// https://spec.matrix.org/v1.19/client-server-api/#put_matrixclientv3roomsroomidsendeventtypetxnid
import type * as z from "zod/mini";
import { CLIENT_V3, endpoint, seg } from "../../endpoint.js";
import { cs } from "../../spec.js";
import { eventIdResponse } from "../schemas.js";

export interface SendArgs {
  roomId: string;
  eventType: string;
  /**
   * The caller's transaction ID (HttpClient.txnId()). The same ID on a resend makes the server
   * answer with the first event instead of a second one, so it is part of the args, not made here.
   */
  txnId: string;
  content: Record<string, unknown>;
}

/** Send a message event (opsdroid sends encrypted values this way). Error: 400 `M_DUPLICATE_ANNOTATION`. */
export const send = endpoint<SendArgs, z.infer<typeof eventIdResponse>>({
  name: "PUT send",
  method: "PUT",
  spec: cs("#put_matrixclientv3roomsroomidsendeventtypetxnid"),
  auth: true,
  rateLimited: false,
  idempotent: true,
  request: (a) => ({
    path: `${CLIENT_V3}/rooms/${seg(a.roomId)}/send/${seg(a.eventType)}/${seg(a.txnId)}`,
    body: a.content,
  }),
  response: eventIdResponse,
});
