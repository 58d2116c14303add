/**
 * The Dendrite guard of a state key's writer (./writer.ts): on a server whose `replaces_state` names
 * the previously current event rather than the state at the event's parents, the lineage cannot show
 * forks, so repairs planned on it are unsound. Such writes fail with UnverifiableWriteError instead of
 * guessing either way (docs/DURABILITY.md "What it relies on").
 */
import type { Op } from "./format.js";
import type { LineageEvent } from "./lineage.js";
import type { OurWrite, Repair } from "./repair-plan.js";
import { reflects } from "./repair.js";
import { UnverifiableWriteError } from "./errors.js";

/** The server's name when its replaces_state is linear (Dendrite); undefined: Synapse's meaning. */
export type LinearReplacesState = () => Promise<string | undefined>;

/**
 * Another writer's event holds the key and lacks some of our ops: on a server whose lineage cannot
 * show forks, whether that writer saw them is unknowable, so fail rather than guess either way.
 * `unverified`: our newest accepted op per key (values as written), with the write that carried it.
 */
export async function refuseUnsoundLineage(linear: LinearReplacesState | undefined, ours: OurWrite[], current: LineageEvent | undefined, unverified: Iterable<[string, { op: Op; write: OurWrite }]>): Promise<void> {
  if (!linear) return;
  if (current && ours.some((w) => w.eventId === current.eventId)) return;
  const content = current?.content ?? {};
  const lost = [...unverified].filter(([, u]) => ours.includes(u.write) && !reflects(content, u.op)).map(([key]) => key);
  if (lost.length === 0) return;
  const server = await linear();
  if (server !== undefined) throw new UnverifiableWriteError(lost, server);
}

/** A plan drawn from a lineage that cannot show forks is not written. */
export async function refuseUnsoundPlan(linear: LinearReplacesState | undefined, repairs: Repair[]): Promise<void> {
  const server = repairs.length > 0 ? await linear?.() : undefined;
  if (server !== undefined) throw new UnverifiableWriteError([...new Set(repairs.map((r) => r.op.key))], server);
}
