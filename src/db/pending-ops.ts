/**
 * The ops a state key's writer (./writer.ts) holds before they are sent: queued ops, and values
 * still being placed (an encrypted value's event, a large value's upload) that reads already see.
 */
import type { Op } from "./format.js";

/** An encrypted value whose event is still being sent: reads see the plaintext, the PUT waits for the reference. */
export class PendingValue {
  constructor(
    readonly plaintext: unknown,
    /** Stands in for the reference in size estimates until it is known. */
    private readonly standIn: unknown,
  ) {}
  toJSON(): unknown {
    return this.standIn;
  }
}

export interface PendingOp {
  op: Op;
  /** Set for repairs: see Repair. */
  expect?: { value: unknown };
  /** Resolves to the value to write (an encrypted reference) when it is not known yet. */
  prepare?: Promise<unknown>;
  repair: boolean;
  /** The key's value as the caller saw it when the op was made (undefined: absent). */
  saw?: { value: unknown };
  /** A late-fork merge's repair (./fork-merge.ts): a final failure is reported, not kept. */
  merge?: boolean;
  /** A merge's: the event whose side lost the fork, and the current event it was planned against. */
  lost?: string;
  against?: string;
  /** A repair that applies an op of ours again (the survival rule): see Repair. */
  own?: boolean;
  resolve: () => void;
  reject: (e: unknown) => void;
}

/** An op with a value still being placed (PendingValue) as the JSON it will be written as. */
export const plain = (o: Op): Op => (o.kind === "put" && o.value instanceof PendingValue ? { ...o, value: o.value.toJSON() } : o);

/** Wait for the values still being prepared; an op whose value failed is rejected and left out. */
export async function prepared(batch: PendingOp[]): Promise<PendingOp[]> {
  if (batch.every((p) => !p.prepare)) return batch;
  const out: PendingOp[] = [];
  for (const p of batch) {
    if (!p.prepare) {
      out.push(p);
      continue;
    }
    try {
      const value = await p.prepare;
      out.push({ ...p, op: { ...p.op, value } as Op });
    } catch (e) {
      p.reject(e);
    }
  }
  return out;
}

