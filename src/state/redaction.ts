/**
 * The redaction algorithm: which content keys survive when an event is redacted, by room version.
 * Spec: https://spec.matrix.org/v1.19/client-server-api/#redactions
 *       https://spec.matrix.org/v1.19/rooms/v11/#redactions (v11 and later: create keeps everything,
 *       power_levels keeps `invite`, member keeps `third_party_invite.signed`, redaction keeps `redacts`)
 * Any type not listed (dev.opsdroid.database among them) keeps nothing: its content becomes {}.
 */
import type { StateEvent, TimelineEvent } from "./types.js";

/** Room versions that use the pre-v11 rules, and the small differences among them. */
const LEGACY = new Set(["1", "2", "3", "4", "5", "6", "7", "8", "9", "10"]);

function keptKeys(type: string, roomVersion: string): string[] {
  const legacy = LEGACY.has(roomVersion);
  const v = legacy ? Number(roomVersion) : 11;
  switch (type) {
    case "m.room.member":
      // v9 added join_authorised_via_users_server (restricted joins).
      return v >= 9 ? ["membership", "join_authorised_via_users_server"] : ["membership"];
    case "m.room.create":
      return legacy ? ["creator"] : ["*"];
    case "m.room.join_rules":
      // v8 added `allow` (restricted rooms).
      return v >= 8 ? ["join_rule", "allow"] : ["join_rule"];
    case "m.room.power_levels": {
      const keys = ["ban", "events", "events_default", "kick", "redact", "state_default", "users", "users_default"];
      return legacy ? keys : [...keys, "invite"];
    }
    case "m.room.aliases":
      // Only v1-v5 protect aliases.
      return v <= 5 ? ["aliases"] : [];
    case "m.room.history_visibility":
      return ["history_visibility"];
    case "m.room.redaction":
      return legacy ? [] : ["redacts"];
    default:
      return [];
  }
}

/** The content left after redaction under `roomVersion`'s rules. */
export function redactContent(type: string, content: Record<string, unknown>, roomVersion: string): Record<string, unknown> {
  const keep = keptKeys(type, roomVersion);
  if (keep.includes("*")) return { ...content };
  const out: Record<string, unknown> = {};
  for (const key of keep) if (key in content) out[key] = content[key];
  // v11: of third_party_invite, only `signed` survives.
  if (type === "m.room.member" && !LEGACY.has(roomVersion)) {
    const tpi = content.third_party_invite;
    if (typeof tpi === "object" && tpi !== null && "signed" in tpi) out.third_party_invite = { signed: (tpi as Record<string, unknown>).signed };
  }
  return out;
}

/** A redacted copy of a state event: pruned content, `redacted_because` recorded, prev_content dropped. */
export function redactStateEvent(event: StateEvent, redaction: TimelineEvent, roomVersion: string): StateEvent {
  const { prev_content: _dropped, ...unsigned } = event.unsigned ?? {};
  return { ...event, content: redactContent(event.type, event.content, roomVersion), unsigned: { ...unsigned, redacted_because: redaction } };
}

/** The event ID a redaction targets: content.redacts from v11, the top-level `redacts` before (servers send both). */
export function redactionTarget(event: TimelineEvent): string | undefined {
  const inContent = event.content.redacts;
  if (typeof inContent === "string") return inContent;
  return typeof event.redacts === "string" ? event.redacts : undefined;
}
