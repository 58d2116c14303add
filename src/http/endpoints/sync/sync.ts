// GET /_matrix/client/v3/sync
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3sync
import * as z from "zod/mini";
import { CLIENT_V3, endpoint } from "../../endpoint.js";
import { cs } from "../../spec.js";

export interface SyncArgs {
  filter?: string;
  since?: string;
  /** Long-poll: how long the server may hold the request when nothing is new (ms). Default 0. */
  timeout?: number;
  full_state?: boolean;
  set_presence?: "offline" | "online" | "unavailable";
  /**
   * Ask for `state_after` instead of `state`: "stable" sends `use_state_after` (spec v1.16),
   * "unstable" MSC4222's `org.matrix.msc4222.use_state_after`; absent, neither (the classic path).
   * Which one the server gets is decided from /versions (src/http/capabilities.ts).
   */
  stateAfter?: "stable" | "unstable";
}

/**
 * Events stay loose here: the reducers check each event's shape and skip a malformed one, so a single
 * odd event cannot make every /sync fail (and the loop stall). Everything is kept (looseObject).
 */
const looseEvent = z.looseObject({ type: z.string() });
const eventList = z.looseObject({ events: z.optional(z.array(looseEvent)) });

export const joinedRoomSchema = z.looseObject({
  state: z.optional(eventList),
  state_after: z.optional(eventList),
  "org.matrix.msc4222.state_after": z.optional(eventList),
  timeline: z.optional(z.looseObject({ events: z.optional(z.array(looseEvent)), limited: z.optional(z.boolean()), prev_batch: z.optional(z.string()) })),
  ephemeral: z.optional(eventList),
  account_data: z.optional(eventList),
});

export const syncResponseSchema = z.looseObject({
  next_batch: z.string(),
  rooms: z.optional(z
    .looseObject({
      join: z.optional(z.record(z.string(), joinedRoomSchema)),
      invite: z.optional(z.record(z.string(), z.looseObject({ invite_state: z.optional(eventList) }))),
      knock: z.optional(z.record(z.string(), z.looseObject({}))),
      leave: z.optional(z.record(z.string(), z.looseObject({ state: z.optional(eventList), timeline: z.optional(eventList) }))),
    })),
  to_device: z.optional(eventList),
  device_lists: z.optional(z.looseObject({ changed: z.optional(z.array(z.string())), left: z.optional(z.array(z.string())) })),
  device_one_time_keys_count: z.optional(z.record(z.string(), z.number())),
  device_unused_fallback_key_types: z.optional(z.array(z.string())),
  "org.matrix.msc2732.device_unused_fallback_key_types": z.optional(z.array(z.string())),
  account_data: z.optional(eventList),
  presence: z.optional(eventList),
});

export type SyncResponse = z.infer<typeof syncResponseSchema>;
export type JoinedRoomResponse = z.infer<typeof joinedRoomSchema>;

export const sync = endpoint<SyncArgs, SyncResponse>({
  name: "GET sync",
  method: "GET",
  spec: cs("#get_matrixclientv3sync"),
  auth: true,
  rateLimited: false,
  idempotent: true,
  longPoll: true,
  request: (a) => ({
    path: `${CLIENT_V3}/sync`,
    query: {
      filter: a.filter,
      since: a.since,
      timeout: a.timeout,
      full_state: a.full_state ? true : undefined,
      set_presence: a.set_presence,
      use_state_after: a.stateAfter === "stable" ? true : undefined,
      "org.matrix.msc4222.use_state_after": a.stateAfter === "unstable" ? true : undefined,
    },
  }),
  response: syncResponseSchema,
});
