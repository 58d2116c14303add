/**
 * Whether a homeserver's `unsigned.replaces_state` can show forks (docs/HOMESERVERS.md "Telling
 * Dendrite apart"). Two signs, per HTTP client:
 *
 * 1. its name: `GET /_matrix/federation/v1/version`, asked once; "Dendrite" cannot show forks,
 *    any other name (Synapse) keeps Synapse's reading;
 * 2. its events, when it does not say its name (federation routes off or not proxied): Synapse
 *    serves every client event with `unsigned.age` (sync, `GET /event`, `GET /state?format=event`),
 *    Dendrite never does. A server whose events come without it is not trusted to show forks.
 *
 * The events are the ones the memory fetched anyway: the second sign costs no request.
 */
import type { HttpClient } from "../http/client.js";
import { getFederationVersion } from "../http/endpoints/server/federation-version.js";

/** Implementations whose `replaces_state` is the previously current event, not the state at the event's parents. */
const LINEAR_REPLACES_STATE = new Set(["Dendrite"]);

interface Evidence {
  /** The federation version probe's answer: the name and version, or undefined when it gave none. */
  named?: Promise<{ name: string; version: string } | undefined>;
  /** An event of this server came without `unsigned.age`. */
  ageless: boolean;
}

const byClient = new WeakMap<HttpClient, Evidence>();

function evidenceOf(http: HttpClient): Evidence {
  let e = byClient.get(http);
  if (!e) byClient.set(http, (e = { ageless: false }));
  return e;
}

/** Note one client-format event this server sent (sign 2). Returns it unchanged. */
export function noteServerEvent<T>(http: HttpClient, raw: T): T {
  if (typeof raw === "object" && raw !== null && typeof (raw as { event_id?: unknown }).event_id === "string") {
    const unsigned = (raw as { unsigned?: { age?: unknown } }).unsigned;
    if (typeof unsigned?.age !== "number") evidenceOf(http).ageless = true;
  }
  return raw;
}

/** What the two signs say: the server's description when its replaces_state cannot show forks, else undefined. */
export function linearFromSigns(named: { name: string; version: string } | undefined, ageless: boolean): string | undefined {
  if (named) return LINEAR_REPLACES_STATE.has(named.name) ? `${named.name} ${named.version}`.trim() : undefined;
  return ageless ? "a homeserver that does not name itself and serves events without unsigned.age (as Dendrite does)" : undefined;
}

/**
 * The server's description when its `replaces_state` cannot show forks; undefined for Synapse and
 * for a server that shows neither sign. The name is asked once per client.
 */
export async function linearReplacesState(http: HttpClient): Promise<string | undefined> {
  const e = evidenceOf(http);
  e.named ??= http.send(getFederationVersion, undefined).then(
    (r) => (r.server?.name !== undefined ? { name: r.server.name, version: r.server.version ?? "" } : undefined),
    () => undefined,
  );
  return linearFromSigns(await e.named, e.ageless);
}
