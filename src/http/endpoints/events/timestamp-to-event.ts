// GET /_matrix/client/v1/rooms/{roomId}/timestamp_to_event
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv1roomsroomidtimestamp_to_event
import * as z from "zod/mini";
import { CLIENT_V1, endpoint, seg } from "../../endpoint.js";
import { cs } from "../../spec.js";

export interface TimestampToEventArgs {
  roomId: string;
  /** Milliseconds since the epoch, inclusive. */
  ts: number;
  /** `b`: the closest event at or before `ts`; `f`: at or after. */
  dir: "b" | "f";
}

export const timestampToEventResponse = z.looseObject({ event_id: z.string(), origin_server_ts: z.number() });

/** The event closest to a time. 404 `M_NOT_FOUND` when there is none in that direction. */
export const timestampToEvent = endpoint<TimestampToEventArgs, z.infer<typeof timestampToEventResponse>>({
  name: "GET timestamp_to_event",
  method: "GET",
  spec: cs("#get_matrixclientv1roomsroomidtimestamp_to_event"),
  auth: true,
  rateLimited: true,
  idempotent: true,
  request: (a) => ({ path: `${CLIENT_V1}/rooms/${seg(a.roomId)}/timestamp_to_event`, query: { ts: a.ts, dir: a.dir } }),
  response: timestampToEventResponse,
});
