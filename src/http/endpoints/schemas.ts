/**
 * Schemas shared by several endpoints: the client event format, a state event, `{event_id}`.
 * Every object is `looseObject`, so fields this version of mxdb does not know are kept
 * (docs/STYLE.md "Validate answers without losing bytes").
 * Spec: https://spec.matrix.org/v1.19/client-server-api/#room-event-format
 */
import * as z from "zod/mini";

/** `{event_id}`: the answer of every endpoint that makes one event (send, state PUT, redact). */
export const eventIdResponse = z.looseObject({ event_id: z.string() });
export type EventIdResponse = z.infer<typeof eventIdResponse>;

/** An empty object answer (`{}`): logout, leave, sendToDevice. */
export const emptyResponse = z.looseObject({});

/** The fields every client event has; also the shape of `unsigned.redacted_because`. */
const clientEventFields = {
  event_id: z.string(),
  type: z.string(),
  sender: z.string(),
  origin_server_ts: z.number(),
  content: z.record(z.string(), z.unknown()),
  /** Absent in the `/sync` room timeline ("without room ID"); present everywhere else. */
  room_id: z.optional(z.string()),
  /** Present, possibly `""`, exactly when the event is a state event. */
  state_key: z.optional(z.string()),
};

/** The redaction event that redacted this one, inside `unsigned`. */
export const redactionEvent = z.looseObject(clientEventFields);

/**
 * `unsigned`: data the server adds, not covered by the signatures.
 * Spec: https://spec.matrix.org/v1.19/client-server-api/#definition-clientevent_unsigneddata
 */
export const unsignedData = z.looseObject({
  age: z.optional(z.number()),
  transaction_id: z.optional(z.string()),
  membership: z.optional(z.string()),
  /** The content of the state event this one replaced (state events only). */
  prev_content: z.optional(z.record(z.string(), z.unknown())),
  /** The event ID of the state event this one replaced (a server extension; Synapse sends it). */
  replaces_state: z.optional(z.string()),
  redacted_because: z.optional(redactionEvent),
});

/** A client event: https://spec.matrix.org/v1.19/client-server-api/#definition-clientevent */
export const clientEvent = z.looseObject({ ...clientEventFields, unsigned: z.optional(unsignedData) });
export type ClientEvent = z.infer<typeof clientEvent>;

/** A state event: a client event whose `state_key` is required (it may be `""`). */
export const stateEvent = z.looseObject({ ...clientEventFields, state_key: z.string(), unsigned: z.optional(unsignedData) });
export type StateEvent = z.infer<typeof stateEvent>;

/** Event content: any JSON object. */
export const eventContent = z.record(z.string(), z.unknown());
