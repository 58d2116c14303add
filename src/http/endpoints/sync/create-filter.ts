// POST /_matrix/client/v3/user/{userId}/filter
// https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3useruseridfilter
import * as z from "zod/mini";
import { CLIENT_V3, endpoint, seg } from "../../endpoint.js";
import { cs } from "../../spec.js";

/** The subset of the Filter definition mxdb sends. Spec: https://spec.matrix.org/v1.19/client-server-api/#filtering */
export interface EventFilter {
  limit?: number;
  types?: string[];
  not_types?: string[];
}
export interface RoomEventFilter extends EventFilter {
  lazy_load_members?: boolean;
  include_redundant_members?: boolean;
}
export interface SyncFilter {
  event_fields?: string[];
  event_format?: "client" | "federation";
  presence?: EventFilter;
  account_data?: EventFilter;
  room?: {
    rooms?: string[];
    not_rooms?: string[];
    include_leave?: boolean;
    state?: RoomEventFilter;
    timeline?: RoomEventFilter;
    ephemeral?: RoomEventFilter;
    account_data?: RoomEventFilter;
  };
}

export interface CreateFilterArgs {
  userId: string;
  filter: SyncFilter;
}

export const createFilterResponse = z.looseObject({ filter_id: z.string() });

/** A POST that makes a new filter each time; sending it twice only wastes an ID, but it is not retried blindly. */
export const createFilter = endpoint<CreateFilterArgs, z.infer<typeof createFilterResponse>>({
  name: "POST filter",
  method: "POST",
  spec: cs("#post_matrixclientv3useruseridfilter"),
  auth: true,
  rateLimited: false,
  idempotent: false,
  request: (a) => ({ path: `${CLIENT_V3}/user/${seg(a.userId)}/filter`, body: a.filter }),
  response: createFilterResponse,
});
