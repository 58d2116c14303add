/**
 * Will the homeserver accept this state event? "The complete event MUST NOT be larger than 65536
 * bytes, when formatted with the federation event format, including any signatures, and encoded as
 * Canonical JSON" (https://spec.matrix.org/v1.19/client-server-api/#size-limits). Synapse checks
 * exactly that and answers 413 M_TOO_LARGE.
 *
 * We cannot know the homeserver's envelope (auth and prev events, hashes, signatures) before it
 * builds the event, so we build a stand-in PDU with the largest realistic values for those fields
 * and measure it: a write that passes here can still be refused only if the room has an unusually
 * long list of auth or prev events, and then the server's 413 reaches the caller as a MatrixError.
 */
import { utf8Length } from "../crypto/bytes.js";
import { canonicalJson } from "../crypto/canonical-json.js";

export const MAX_EVENT_BYTES = 65_536;

const EVENT_ID = `$${"x".repeat(43)}`; // room v4+ event IDs: '$' + 43 chars of URL-safe base64 of a SHA-256
const SIGNATURE = "s".repeat(86); // unpadded base64 of a 64-byte ed25519 signature

export interface StateEventShape {
  roomId: string;
  sender: string;
  type: string;
  stateKey: string;
  content: Record<string, unknown>;
}

/** Estimated size in bytes of the event's canonical federation form. */
export function estimateEventSize(e: StateEventShape): number {
  const server = e.sender.slice(e.sender.indexOf(":") + 1);
  const pdu = {
    auth_events: [EVENT_ID, EVENT_ID, EVENT_ID, EVENT_ID], // create, power levels, sender's member, join rules
    content: e.content,
    depth: 2 ** 31,
    hashes: { sha256: "h".repeat(43) },
    origin_server_ts: 9_999_999_999_999,
    prev_events: [EVENT_ID, EVENT_ID, EVENT_ID],
    room_id: e.roomId,
    sender: e.sender,
    signatures: { [server]: { "ed25519:a_XXXXXXXX": SIGNATURE } },
    state_key: e.stateKey,
    type: e.type,
    unsigned: { age_ts: 9_999_999_999_999, replaces_state: EVENT_ID },
  };
  return utf8Length(canonicalJson(pdu));
}
