/**
 * Who changed which keys when (docs/HISTORY.md "Export, import, audit"): each state key's chain of
 * events (replaces_state, as ./history.ts walks it), compared event by event, oldest first. Flags a
 * writer outside an allow-list, and an event that removed a key another user had written (in a
 * shared state key, the mark of a writer that did not see the other's write, or of a deliberate
 * removal worth a look).
 */
import { hasOwn, jsonEqual } from "./format.js";
import type { LineageEvent } from "./lineage.js";
import { stateChain } from "./history.js";
import type { RoomRequests } from "./room-requests.js";

export interface AuditEntry {
  key: string;
  kind: "put" | "delete";
  sender: string;
  ts: number;
  eventId: string;
  /** Why this change deserves a look; empty when it does not. */
  flags: string[];
}

/** The changes in one state key's events, given oldest first. */
export function auditChain(events: LineageEvent[], allow?: ReadonlySet<string>): AuditEntry[] {
  const out: AuditEntry[] = [];
  const setBy = new Map<string, string>();
  let before: Record<string, unknown> = {};
  for (const e of events) {
    const sender = e.sender ?? "";
    for (const key of new Set([...Object.keys(before), ...Object.keys(e.content)])) {
      const present = hasOwn(e.content, key);
      if (present === hasOwn(before, key) && (!present || jsonEqual(e.content[key], before[key]))) continue;
      const flags: string[] = [];
      if (allow && !allow.has(sender)) flags.push("writer not in the allow-list");
      const setter = setBy.get(key);
      if (!present && setter !== undefined && setter !== sender) flags.push(`dropped a key written by ${setter}`);
      out.push({ key, kind: present ? "put" : "delete", sender, ts: e.ts, eventId: e.eventId, flags });
      if (present) setBy.set(key, sender);
      else setBy.delete(key);
    }
    before = e.content;
  }
  return out;
}

/** Walk every state key's chain (newest to oldest, then audited oldest first); all changes sorted by time. */
export async function auditRoom(stateKeys: string[], requests: RoomRequests, allow?: ReadonlySet<string>): Promise<AuditEntry[]> {
  const all: AuditEntry[] = [];
  for (const stateKey of stateKeys) {
    const chain: LineageEvent[] = [];
    for await (const e of stateChain(await requests.currentEvent(stateKey), requests.event)) chain.push(e);
    all.push(...auditChain(chain.reverse(), allow));
  }
  return all.sort((a, b) => a.ts - b.ts);
}
