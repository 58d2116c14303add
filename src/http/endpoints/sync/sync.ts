// GET /_matrix/client/v3/sync
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3sync
import { z } from "zod";
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
   * Ask for `state_after` instead of `state` (spec v1.16, MSC4222). Sent under both names: the
   * stable `use_state_after` and Synapse's unstable `org.matrix.msc4222.use_state_after`; a server
   * ignores the one it does not know.
   */
  useStateAfter?: boolean;
}

/**
 * Events stay loose here: the reducers check each event's shape and skip a malformed one, so a single
 * odd event cannot make every /sync fail (and the loop stall). Everything is kept (looseObject).
 */
const looseEvent = z.looseObject({ type: z.string() });
const eventList = z.looseObject({ events: z.array(looseEvent).optional() });

export const joinedRoomSchema = z.looseObject({
  state: eventList.optional(),
  state_after: eventList.optional(),
  "org.matrix.msc4222.state_after": eventList.optional(),
  timeline: z.looseObject({ events: z.array(looseEvent).optional(), limited: z.boolean().optional(), prev_batch: z.string().optional() }).optional(),
  ephemeral: eventList.optional(),
  account_data: eventList.optional(),
});

export const syncResponseSchema = z.looseObject({
  next_batch: z.string(),
  rooms: z
    .looseObject({
      join: z.record(z.string(), joinedRoomSchema).optional(),
      invite: z.record(z.string(), z.looseObject({ invite_state: eventList.optional() })).optional(),
      knock: z.record(z.string(), z.looseObject({})).optional(),
      leave: z.record(z.string(), z.looseObject({ state: eventList.optional(), timeline: eventList.optional() })).optional(),
    })
    .optional(),
  to_device: eventList.optional(),
  device_lists: z.looseObject({ changed: z.array(z.string()).optional(), left: z.array(z.string()).optional() }).optional(),
  device_one_time_keys_count: z.record(z.string(), z.number()).optional(),
  device_unused_fallback_key_types: z.array(z.string()).optional(),
  "org.matrix.msc2732.device_unused_fallback_key_types": z.array(z.string()).optional(),
  account_data: eventList.optional(),
  presence: eventList.optional(),
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
      use_state_after: a.useStateAfter ? true : undefined,
      "org.matrix.msc4222.use_state_after": a.useStateAfter ? true : undefined,
    },
  }),
  response: syncResponseSchema,
});
