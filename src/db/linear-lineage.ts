/**
 * What a writer may conclude on a homeserver whose `unsigned.replaces_state` cannot show forks
 * (Dendrite; docs/HOMESERVERS.md "Repairs on Dendrite"). There a repair plan drawn from the lineage
 * is never written:
 *
 * - on the state key `""`, `replaces_state` is the previously current event (a linear history):
 *   whether another writer saw our op cannot be told, so a planned repair is refused with
 *   `UnverifiableWriteError`;
 * - on any other state key (per-key mode, a named shared key), Dendrite 0.13.8 looks the replaced
 *   event up under the state key `""` of the same type (syncapi `updateStateEvent` resolves the
 *   state key as a user ID and falls back to `""`): the lineage names another key's event, so the
 *   plan is noise and is dropped, not refused;
 * - on every state key, an op of ours the current content does not hold is refused: it may have
 *   been lost, or dropped on purpose, and nothing on the wire says which.
 *
 * With Synapse's meaning (`linear` absent or answering undefined) the plan stands as it is.
 */
import type { Op } from "./format.js";
import { UnverifiableWriteError } from "./errors.js";
import type { LineageEvent } from "./lineage.js";
import type { OurWrite, Repair } from "./repair-plan.js";
import { reflects } from "./repair.js";

/** The server's name when its replaces_state is linear (Dendrite); undefined: Synapse's meaning. */
export type LinearReplacesState = () => Promise<string | undefined>;

/**
 * Another writer's event holds the key and lacks some of our ops: on a server whose lineage cannot
 * show forks, whether that writer saw them is unknowable, so fail rather than guess either way.
 * `unverified`: our newest accepted op per key (values as written), with the write that carried it.
 */
export async function refuseUnsoundLineage(linear: LinearReplacesState | undefined, ours: readonly OurWrite[], current: LineageEvent | undefined, unverified: Iterable<[string, { op: Op; write: OurWrite }]>): Promise<void> {
  if (!linear) return;
  if (current && ours.some((w) => w.eventId === current.eventId)) return;
  const content = current?.content ?? {};
  const lost = [...unverified].filter(([, u]) => ours.includes(u.write) && !reflects(content, u.op)).map(([key]) => key);
  if (lost.length === 0) return;
  const server = await linear();
  if (server !== undefined) throw new UnverifiableWriteError(lost, server);
}

export interface LinearCheck {
  stateKey: string;
  /** The plan drawn from the lineage (./repair-plan.ts). */
  repairs: Repair[];
  /** The current event's content (empty when there is none). */
  content: Record<string, unknown>;
  /** The writes being verified. */
  ours: readonly OurWrite[];
  /** Our newest accepted op per key, with the write that carried it. */
  unverified: ReadonlyMap<string, { op: Op; write: OurWrite }>;
  /** Keys with ops of ours still queued: they are ours to set next, not lost. */
  pendingKeys: ReadonlySet<string>;
  /** The server's name when its replaces_state cannot show forks; asked only when something is at stake. */
  linear?: LinearReplacesState;
}

/** Our verified-now ops the current content does not hold (by content alone, no lineage). */
export function missingOps(c: Pick<LinearCheck, "content" | "ours" | "unverified" | "pendingKeys">): string[] {
  return [...c.unverified].filter(([key, u]) => c.ours.includes(u.write) && !c.pendingKeys.has(key) && !reflects(c.content, u.op)).map(([key]) => key);
}

/** The repairs to write: `repairs` on Synapse; none on a linear server, or `UnverifiableWriteError`. */
export async function repairsOnLinear(c: LinearCheck): Promise<Repair[]> {
  if (!c.linear) return c.repairs;
  const missing = missingOps(c);
  if (c.repairs.length === 0 && missing.length === 0) return c.repairs;
  const server = await c.linear();
  if (server === undefined) return c.repairs;
  if (missing.length > 0) throw new UnverifiableWriteError(missing, server);
  if (c.stateKey !== "") return [];
  throw new UnverifiableWriteError([...new Set(c.repairs.map((r) => r.op.key))], server);
}
