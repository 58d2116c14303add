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
import type { OurWrite, Repair } from "./repair-plan.js";
import { reflects } from "./repair.js";

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
  linear?: () => Promise<string | undefined>;
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
