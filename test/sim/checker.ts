/**
 * The durability property (issue 10 item 1), checked on what the harness recorded. Precisely
 * (docs/SIMULATION.md "The property"):
 *
 * - Every op has a unique value (deletes: absence). `saw(a)` is the op whose value the issuing
 *   process's own view showed for a's key just before a was issued (`init:<key>` for the initial
 *   value; none when the view showed the key absent). `closure(a)` = saw(a), saw(saw(a)), ...: the
 *   ops a's writer knew a replaces. The initial value is in every op's closure of its key.
 * - a is acknowledged when it resolved and a flush() the same process called after that resolved.
 * - For every acknowledged a, the final value F of a's key (the homeserver's current state once the
 *   run has quiesced) must come from a itself, or from an op not in closure(a) (concurrent with a,
 *   or one that saw a). Violations: F is from an op in closure(a) or the initial value ("reverted"),
 *   F is absent and a is a put with no delete outside closure(a) ("lost"), F is a value no op wrote
 *   ("foreign"). Absence cannot name its delete, so an acknowledged delete is only violated by a
 *   put from its closure.
 */
import { canonical } from "./room-model.js";

export interface OpRecord {
  id: string;
  process: string;
  key: string;
  kind: "put" | "delete";
  /** The unique value of a put. */
  value?: unknown;
  /** Op ID the issuer's view showed for the key; undefined when absent; "?" when it matched no op. */
  saw: string | undefined;
  status: "pending" | "resolved" | "rejected";
  acknowledged: boolean;
}

export interface History {
  ops: OpRecord[];
  /** Initial value per key (absent keys are not listed). */
  initial: Record<string, unknown>;
  keys: string[];
}

export interface Violation {
  kind: "reverted" | "lost" | "foreign" | "view-foreign";
  op: string;
  key: string;
  detail: string;
}

export const initId = (key: string) => `init:${key}`;

/** Which op wrote this value (unique values), "init:<key>", or undefined for a value nobody wrote. */
export function valueIndex(history: History): (key: string, value: unknown) => string | undefined {
  const byValue = new Map<string, string>();
  for (const [k, v] of Object.entries(history.initial)) byValue.set(`${k}|${canonical(v)}`, initId(k));
  for (const op of history.ops) if (op.kind === "put") byValue.set(`${op.key}|${canonical(op.value)}`, op.id);
  return (key, value) => byValue.get(`${key}|${canonical(value)}`);
}

export function closure(history: History, op: OpRecord): Set<string> {
  const byId = new Map(history.ops.map((o) => [o.id, o]));
  const out = new Set<string>([initId(op.key)]);
  for (let s = op.saw; s !== undefined && !out.has(s); s = byId.get(s)?.saw) out.add(s);
  return out;
}

/** `final`: the homeserver's final value per key (absent keys not listed). */
export function checkDurability(history: History, final: Record<string, unknown>): Violation[] {
  const which = valueIndex(history);
  const out: Violation[] = [];
  for (const op of history.ops) {
    if (op.saw === "?") out.push({ kind: "view-foreign", op: op.id, key: op.key, detail: "the issuer's view showed a value no op wrote" });
  }
  for (const a of history.ops) {
    if (!a.acknowledged) continue;
    const seen = closure(history, a);
    const present = Object.prototype.hasOwnProperty.call(final, a.key);
    if (!present) {
      if (a.kind === "delete") continue;
      const deleter = history.ops.find((d) => d.kind === "delete" && d.key === a.key && !seen.has(d.id));
      if (!deleter) out.push({ kind: "lost", op: a.id, key: a.key, detail: `acknowledged put ${canonical(a.value)} is gone and no delete outside its closure exists` });
      continue;
    }
    const writer = which(a.key, final[a.key]);
    if (writer === undefined) out.push({ kind: "foreign", op: a.id, key: a.key, detail: `final value ${canonical(final[a.key])} was written by no op` });
    else if (writer !== a.id && seen.has(writer)) {
      out.push({ kind: "reverted", op: a.id, key: a.key, detail: `final value is ${writer}'s ${canonical(final[a.key])}, which ${a.id} had seen and replaced` });
    }
  }
  return out;
}
