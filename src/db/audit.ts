/**
 * Who changed which keys when (docs/HISTORY.md "Export, import, audit"): each state key's chain of
 * events (replaces_state, as ./history.ts walks it), compared event by event, oldest first. Flags a
 * writer outside an allow-list, and an event that removed a key another user had written (in a
 * shared state key, the mark of a writer that did not see the other's write, or of a deliberate
 * removal worth a look), and a stale change (a lost update, ./repair-marks.ts) unless a later event
 * repaired it: then both are marked (repairedBy, repairOf) and the drop is not flagged.
 */
import { hasOwn, jsonEqual } from "./format.js";
import type { LineageEvent } from "./lineage.js";
import { stateChain } from "./history.js";
import { repairs, slot, STALE_WINDOW, staleChange, type KeyChange } from "./repair-marks.js";
import type { RoomRequests } from "./room-requests.js";

export interface AuditEntry {
  key: string;
  kind: "put" | "delete";
  sender: string;
  ts: number;
  eventId: string;
  /** Why this change deserves a look; empty when it does not. */
  flags: string[];
  /** A stale change (a lost update) that a later event put right: that event's ID. Not flagged. */
  repairedBy?: string;
  /** This change is a repair: it put back what this event's stale change dropped. */
  repairOf?: string;
}

/** The changes in one state key's events, given oldest first. */
export function auditChain(events: LineageEvent[], allow?: ReadonlySet<string>): AuditEntry[] {
  const out: AuditEntry[] = [];
  const setBy = new Map<string, string>();
  // Each key's latest change, to tell whether the next one repaired it.
  const last = new Map<string, { change: KeyChange; entry: AuditEntry; dropFlag: string | undefined }>();
  let before: Record<string, unknown> = {};
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    const sender = e.sender ?? "";
    // The contents below this event, newest first, as far as a stale check reads.
    const below = events.slice(Math.max(0, i - STALE_WINDOW), i).reverse().map((x) => x.content);
    for (const key of new Set([...Object.keys(before), ...Object.keys(e.content)])) {
      const present = hasOwn(e.content, key);
      if (present === hasOwn(before, key) && (!present || jsonEqual(e.content[key], before[key]))) continue;
      const change: KeyChange = { eventId: e.eventId, before: slot(before, key), after: slot(e.content, key), stale: i > 0 && staleChange(key, e.content, below, i <= STALE_WINDOW) };
      const flags: string[] = [];
      if (allow && !allow.has(sender)) flags.push("writer not in the allow-list");
      const setter = setBy.get(key);
      let dropFlag: string | undefined;
      if (!present && setter !== undefined && (setter !== sender || change.stale)) dropFlag = `dropped a key written by ${setter}`;
      else if (present && change.stale && setter !== undefined) dropFlag = `set back a key written by ${setter} to an older value`;
      if (dropFlag) flags.push(dropFlag);
      const entry: AuditEntry = { key, kind: present ? "put" : "delete", sender, ts: e.ts, eventId: e.eventId, flags };
      const prev = last.get(key);
      if (prev && repairs(change, prev.change)) {
        // Dropped, then repaired: the drop is told, not flagged.
        prev.entry.repairedBy = e.eventId;
        prev.entry.flags = prev.entry.flags.filter((f) => f !== prev.dropFlag);
        entry.repairOf = prev.entry.eventId;
      }
      last.set(key, { change, entry, dropFlag });
      out.push(entry);
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
