/**
 * Endpoints as values (docs/STYLE.md "One file per endpoint" and "Requests are values"): each file
 * in ./endpoints exports one `Endpoint`, which says how to build the request and what the answer
 * looks like, and sends nothing. Only ./client.ts turns one into I/O.
 */
import type * as z from "zod/mini";
import type { Method } from "./types.js";

/** Path prefixes, kept in one place. */
export const CLIENT_V3 = "/_matrix/client/v3";
export const CLIENT_V1 = "/_matrix/client/v1";
export const MEDIA_V3 = "/_matrix/media/v3";

/** A request body that is not JSON (media upload). */
export interface RawBody {
  raw: Uint8Array;
  contentType: string;
}

/** What an endpoint builds from its arguments. */
export interface RequestParts {
  /** Path with every parameter already percent-encoded (use `seg`). */
  path: string;
  /** Query parameters; undefined values are left out; an array repeats the key (`via=a&via=b`). */
  query?: Record<string, string | number | boolean | readonly string[] | undefined>;
  /** A JSON value (serialised compactly) or raw bytes. */
  body?: unknown;
}

export interface Endpoint<Args, Res> {
  /** A short name for traces and errors, e.g. "PUT state". */
  readonly name: string;
  readonly method: Method;
  /** The spec section (one spec version everywhere: ./spec.ts). */
  readonly spec: string;
  /** Sends `Authorization: Bearer`. */
  readonly auth: boolean;
  /** The spec marks it "Rate-limited: Yes". 429 is handled for every endpoint regardless. */
  readonly rateLimited: boolean;
  /**
   * Safe to send twice: retried on network errors and 502/503/504. GETs, and PUTs whose path carries a
   * transaction ID or that set a value; never a POST that creates something.
   */
  readonly idempotent: boolean;
  /** The server holds the answer on purpose (the /sync long-poll): it gives back its rate-gate slot once sent. */
  readonly longPoll?: boolean;
  request(args: Args): RequestParts;
  /** zod schema of the 2xx body; `"bytes"` for endpoints that return raw content (media download). */
  readonly response: z.ZodMiniType<Res> | "bytes";
}

/** Declare an endpoint; a function only so the types of `args` and the response flow through. */
export function endpoint<Args, Res>(def: Endpoint<Args, Res>): Endpoint<Args, Res> {
  return def;
}

/**
 * Percent-encode one path segment. encodeURIComponent leaves `!'()*` alone, which is legal in a
 * path segment; room IDs keep their `!`, as Synapse and other clients send them. `/`, `#`, `?`,
 * `:`, spaces and non-ASCII are all encoded (`:` too: Synapse unquotes the whole segment).
 */
export function seg(value: string): string {
  // "." and ".." (also as %2E) are dot segments to every WHATWG URL parser, undici included: the
  // request would silently go to the parent path (a state PUT with key ".." lands on another
  // resource). No encoding survives, so refuse them rather than write to the wrong place.
  if (value === "." || value === "..") throw new TypeError(`mxdb cannot send the path segment ${JSON.stringify(value)}: URL parsers remove dot segments`);
  return encodeURIComponent(value);
}

export function isRawBody(body: unknown): body is RawBody {
  return typeof body === "object" && body !== null && (body as RawBody).raw instanceof Uint8Array && typeof (body as RawBody).contentType === "string";
}

/** Args type of an endpoint. */
export type ArgsOf<E> = E extends Endpoint<infer A, unknown> ? A : never;
/** Response type of an endpoint. */
export type ResOf<E> = E extends Endpoint<unknown, infer R> ? R : never;
