/**
 * What the homeserver says it speaks (GET /_matrix/client/versions, asked once at open) and what
 * mxdb does with it: which /sync state algorithm to ask for and which media endpoints to call.
 * Pure decision (`decideCapabilities`) plus the one request (`fetchCapabilities`).
 * Spec: https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientversions
 * Why each rule: docs/HOMESERVERS.md "Capabilities".
 */
import type { HttpClient } from "./client.js";
import { getVersions } from "./endpoints/server/versions.js";
import { MxdbError } from "./errors.js";

/**
 * How /sync reports room state:
 * - "state_after": the stable `use_state_after` parameter and `state_after` field (spec v1.16);
 * - "msc4222": the same under MSC4222's unstable names (`org.matrix.msc4222.use_state_after`);
 * - "classic": `state` (before the timeline) plus the timeline, the algorithm every version has.
 */
export type SyncPath = "state_after" | "msc4222" | "classic";

/** The `stateAfter` option: "auto" decides from /versions; the others force a path (tests, servers that do not advertise). */
export type StateAfterOption = "auto" | "never" | "stable" | "unstable";

export interface ServerCapabilities {
  /** The spec versions the server listed (`versions`), as it listed them. */
  readonly versions: readonly string[];
  /** Unstable features the server turned on (`unstable_features` entries that are true), sorted. */
  readonly unstableFeatures: readonly string[];
  /** The /sync state algorithm in use. */
  readonly syncPath: SyncPath;
  /** True when `syncPath` was forced by the `stateAfter` option rather than chosen from /versions. */
  readonly syncPathForced: boolean;
  /** Media endpoints: authenticated `/_matrix/client/v1/media/*` (spec v1.11) or the legacy `/_matrix/media/v3/*`. */
  readonly media: "authenticated" | "legacy";
}

/** The spec version that made `use_state_after` stable. */
export const STABLE_STATE_AFTER = [1, 16] as const;
/** The spec version that added authenticated media (MSC3916). */
export const AUTHENTICATED_MEDIA = [1, 11] as const;
/** The oldest spec version mxdb works with: the /v3 Client-Server endpoints it calls. */
export const MINIMUM_VERSION = [1, 1] as const;
/** unstable_features names that announce MSC4222 (the MSC's feature flag, and its query parameter's name). */
export const MSC4222_FEATURES = ["org.matrix.msc4222", "org.matrix.msc4222.use_state_after"] as const;

/** The server lacks something mxdb needs: refused at open instead of reading its answers wrongly. */
export class UnsupportedHomeserverError extends MxdbError {
  override readonly name = "UnsupportedHomeserverError";
  readonly code = "UNSUPPORTED_HOMESERVER";
  constructor(
    /** What is missing, e.g. "spec v1.1 (the /v3 Client-Server API)". */
    readonly missing: string,
    /** The versions the server listed. */
    readonly versions: readonly string[],
  ) {
    super(`the homeserver does not support ${missing}; it lists spec versions ${versions.length > 0 ? versions.join(", ") : "(none)"}`);
  }
}

/** "v1.16" -> [1, 16]; r0.x and anything else -> undefined. */
function parseVersion(v: string): [number, number] | undefined {
  const m = /^v(\d+)\.(\d+)$/.exec(v);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

function atLeast(versions: readonly string[], [major, minor]: readonly [number, number]): boolean {
  return versions.some((v) => {
    const p = parseVersion(v);
    return p !== undefined && (p[0] > major || (p[0] === major && p[1] >= minor));
  });
}

/** The decision, from a /versions body; `option` forces the sync path. Throws UnsupportedHomeserverError. */
export function decideCapabilities(body: { versions: readonly string[]; unstable_features?: Record<string, boolean> | undefined }, option: StateAfterOption = "auto"): ServerCapabilities {
  const versions = [...body.versions];
  if (!atLeast(versions, MINIMUM_VERSION)) throw new UnsupportedHomeserverError("spec v1.1 (the /v3 Client-Server API)", versions);
  const unstableFeatures = Object.entries(body.unstable_features ?? {})
    .filter(([, on]) => on === true)
    .map(([name]) => name)
    .sort();
  const forced: Record<Exclude<StateAfterOption, "auto">, SyncPath> = { never: "classic", stable: "state_after", unstable: "msc4222" };
  let syncPath: SyncPath;
  if (option !== "auto") syncPath = forced[option];
  else if (atLeast(versions, STABLE_STATE_AFTER)) syncPath = "state_after";
  else if (MSC4222_FEATURES.some((f) => unstableFeatures.includes(f))) syncPath = "msc4222";
  else syncPath = "classic";
  const media = atLeast(versions, AUTHENTICATED_MEDIA) ? "authenticated" : "legacy";
  return Object.freeze({ versions: Object.freeze(versions), unstableFeatures: Object.freeze(unstableFeatures), syncPath, syncPathForced: option !== "auto", media });
}

/** GET /versions once and decide. Its errors (no answer, a 404 from something that is not a homeserver) pass through. */
export async function fetchCapabilities(http: HttpClient, option: StateAfterOption = "auto", signal?: AbortSignal): Promise<ServerCapabilities> {
  const body = await http.send(getVersions, undefined, signal ? { signal } : undefined);
  return decideCapabilities(body, option);
}
