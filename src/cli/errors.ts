/**
 * How the command line reports failure: one line on stderr, `mxdb: <what happened> — <what to do>`,
 * with the Matrix errcode when the homeserver sent one, and an exit status that says which kind of
 * failure it was. Secrets never appear: MatrixError/TransportError messages already redact URLs.
 * Spec (errcodes): https://spec.matrix.org/v1.19/client-server-api/#standard-error-response
 */
import { EncryptionUnavailableError, InvalidKeyError, InvalidValueError, UnknownRoomError } from "../db/errors.js";
import { HttpError, isMatrixError, isMxdbError, TransportError } from "../http/errors.js";

export const EXIT = {
  ok: 0,
  /** The work failed: the homeserver refused, the network, a bad value found after connecting. */
  runtime: 1,
  /** The command line itself is wrong: unknown option, missing argument, invalid JSON. Nothing was sent. */
  usage: 2,
  /** Asked-for thing is absent: `get` of a missing key, `homeserver status` when it is not running. */
  notFound: 3,
  /** `audit` found writes to flag (outside --allow, or dropping another writer's keys). */
  flagged: 4,
} as const;

/** The command line is wrong; nothing was sent. */
export class UsageError extends Error {
  override readonly name = "UsageError";
  constructor(
    message: string,
    /** The command whose --help explains it, e.g. "put". */
    readonly command?: string,
  ) {
    super(message);
  }
}

/** A failure whose message already says what to do, with its own exit status. */
export class CliError extends Error {
  override readonly name = "CliError";
  constructor(
    message: string,
    readonly exitCode: number = EXIT.runtime,
  ) {
    super(message);
  }
}

/** What to do about a Matrix errcode, given the request that got it. */
function matrixHint(errcode: string, url: string): string {
  const path = url.replace(/^https?:\/\/[^/]+/, "");
  switch (errcode) {
    case "M_FORBIDDEN":
      if (path.includes("/login")) return "check the user and password, or run mxdb login again";
      if (path.includes("/state/")) return "this user may not write state in the room: ask a room admin for power level to send dev.opsdroid.database";
      return "this user is not allowed to do that: is it joined to the room, with enough power?";
    case "M_UNKNOWN_TOKEN":
    case "M_MISSING_TOKEN":
      return "the access token is not valid (anymore): run mxdb login again";
    case "M_USER_DEACTIVATED":
      return "this account is deactivated: use another user";
    case "M_LIMIT_EXCEEDED":
      return "the homeserver is rate-limiting this user: wait a little and try again";
    case "M_NOT_FOUND":
      return "check the room and key names";
    case "M_TOO_LARGE":
      return "the event is too large: store a smaller value, or use --single-state-key false";
    case "M_BAD_JSON":
    case "M_NOT_JSON":
      return "the homeserver refused the JSON: room state takes no floats and only integers within ±(2^53−1)";
    case "M_UNRECOGNIZED":
      return "the homeserver does not know this request: is the URL a Matrix homeserver?";
    default:
      return "see the homeserver's message";
  }
}

function oneLine(text: string): string {
  return text.split("\n")[0]!.trim();
}

/** The one line printed for `error` (without the leading "mxdb: "). */
export function describeError(error: unknown): string {
  if (error instanceof UsageError) return `${error.message} (see mxdb ${error.command ? `${error.command} ` : ""}--help)`;
  if (error instanceof CliError) return oneLine(error.message);
  if (isMatrixError(error)) {
    return `${error.errcode}: ${error.error || `HTTP ${error.status}`} — ${matrixHint(error.errcode, error.url)}`;
  }
  if (error instanceof TransportError) {
    let where = error.url;
    try {
      where = new URL(error.url).origin;
    } catch {
      // not a URL: keep it as it is
    }
    const cause = error.cause as { code?: unknown; message?: unknown } | undefined;
    const why = typeof cause?.code === "string" ? cause.code : typeof cause?.message === "string" ? oneLine(cause.message) : String(error.cause);
    return `cannot reach the homeserver at ${where} (${why}) — is it running? (mxdb homeserver status, or check --homeserver)`;
  }
  if (error instanceof HttpError) return `${oneLine(error.message)} — the homeserver or a proxy in front of it is failing; try again later`;
  if (error instanceof UnknownRoomError) return `${error.message} — check --room, and that this user is invited to the room`;
  if (error instanceof EncryptionUnavailableError) return `${oneLine(error.message)} — or pass --no-encrypt`;
  if (isMxdbError(error)) return `${error.code}: ${oneLine(error.message)}`;
  if (error instanceof Error) return oneLine(error.message.replace(/^mxdb: /, ""));
  return String(error);
}

export function exitCodeOf(error: unknown): number {
  if (error instanceof UsageError) return EXIT.usage;
  if (error instanceof CliError) return error.exitCode;
  // The caller's key or value: refused before it was sent.
  if (error instanceof InvalidKeyError || error instanceof InvalidValueError) return EXIT.usage;
  return EXIT.runtime;
}
