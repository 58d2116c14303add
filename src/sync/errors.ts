/** The sync layer's own errors (the homeserver's stay MatrixError / TransportError). */
import { MxdbError } from "../http/errors.js";

/**
 * One event of a /sync reply had the wrong shape (a field missing or of the wrong type). It is left
 * out and the rest of the reply is applied; the loop reports this to onError and goes on.
 */
export class MalformedEventError extends MxdbError {
  override readonly name = "MalformedEventError";
  readonly code = "MALFORMED_EVENT";
  constructor(
    /** Where in the reply, e.g. `rooms.join.!r:hs.timeline.events[3]`. */
    readonly where: string,
    readonly reason: string,
    /** The event's ID when it had a string one. */
    readonly eventId?: string,
  ) {
    super(`dropped a malformed event at ${where}${eventId ? ` (${eventId})` : ""}: ${reason}`);
  }
}

/**
 * A /sync request got no complete answer within the long-poll timeout plus a margin: the
 * connection is taken as hung, aborted, and the loop retries (reported to onError).
 */
export class SyncTimeoutError extends MxdbError {
  override readonly name = "SyncTimeoutError";
  readonly code = "SYNC_TIMEOUT";
  constructor(readonly deadlineMs: number) {
    super(`no /sync answer within ${deadlineMs} ms (long-poll timeout plus margin): the request was aborted and is retried`);
  }
}
