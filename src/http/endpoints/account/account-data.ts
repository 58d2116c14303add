// GET|PUT /_matrix/client/v3/user/{userId}/account_data/{type}
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3useruseridaccount_datatype
import * as z from "zod/mini";
import { CLIENT_V3, endpoint, seg } from "../../endpoint.js";
import { cs } from "../../spec.js";
import { emptyResponse } from "../schemas.js";

export interface AccountDataArgs {
  userId: string;
  type: string;
}

const path = (a: AccountDataArgs) => `${CLIENT_V3}/user/${seg(a.userId)}/account_data/${seg(a.type)}`;

/** The content of one global account data event; 404 M_NOT_FOUND when there is none. */
export const getAccountData = endpoint<AccountDataArgs, Record<string, unknown>>({
  name: "GET account data",
  method: "GET",
  spec: cs("#get_matrixclientv3useruseridaccount_datatype"),
  auth: true,
  rateLimited: false,
  idempotent: true,
  request: (a) => ({ path: path(a) }),
  response: z.record(z.string(), z.unknown()),
});

/** Sets (replaces) the content: sending it twice is the same write. */
export const putAccountData = endpoint<AccountDataArgs & { content: Record<string, unknown> }, z.infer<typeof emptyResponse>>({
  name: "PUT account data",
  method: "PUT",
  spec: cs("#put_matrixclientv3useruseridaccount_datatype"),
  auth: true,
  rateLimited: false,
  idempotent: true,
  request: (a) => ({ path: path(a), body: a.content }),
  response: emptyResponse,
});
