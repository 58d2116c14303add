/**
 * Whether a homeserver's `unsigned.replaces_state` can show forks (docs/HOMESERVERS.md "Telling
 * Dendrite apart"). Two signs, per HTTP client:
 *
 * 1. its name: `GET /_matrix/federation/v1/version`, asked once; "Dendrite" cannot show forks,
 *    any other name (Synapse) keeps Synapse's reading;
 * 2. its events, when it does not say its name (federation routes off or not proxied): Synapse
 *    serves every event it created itself with `unsigned.age` (sync, `GET /event`,
 *    `GET /state?format=event`), Dendrite never does. Only events whose sender is on our own server
 *    count: in a federated room Synapse served another server's event without `age`, and taking
 *    that for Dendrite refused a repair the split-brain test needed (CI, 2026-12-04).
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

/**
 * Note one client-format event this server sent (sign 2), when its sender is on `localServer` (our
 * user ID's server name): only an event the server created itself says how it serves events.
 * Returns it unchanged.
 */
export function noteServerEvent<T>(http: HttpClient, raw: T, localServer: string | undefined): T {
  if (localServer === undefined || typeof raw !== "object" || raw === null) return raw;
  const e = raw as { event_id?: unknown; sender?: unknown; unsigned?: { age?: unknown } };
  if (typeof e.event_id !== "string" || typeof e.sender !== "string" || serverOf(e.sender) !== localServer) return raw;
  if (typeof e.unsigned?.age !== "number") evidenceOf(http).ageless = true;
  return raw;
}

/** The server name of a user ID (`@local:server`, the server name may carry a port). */
export function serverOf(userId: string): string | undefined {
  const colon = userId.indexOf(":");
  return colon > 0 ? userId.slice(colon + 1) : undefined;
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
