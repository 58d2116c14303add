/**
 * The events of a shared state key's chain fetched a page at a time (docs/HISTORY.md "How it is
 * found"): with every key in one state key, nearly every `dev.opsdroid.database` event of the room is
 * a link of its `replaces_state` chain, so instead of one `GET .../event/{id}` per link, the walk
 * reads the room's timeline of that type backwards (`/messages` with a type filter), a page at a
 * time, from where the chain is (`/context` of the event it asks for gives the token). The chain
 * itself is still followed link by link through `replaces_state`; a link not in the page held is
 * fetched by `/context`, which also moves the paging there. Holds one page.
 */
import type { LineageEvent } from "./lineage.js";

/** Events per `/messages` page: a shared state key's event is at most 64 KiB, so a page is at most a few MB. */
export const PAGE_EVENTS = 100;

export interface PagedSource {
  /** The event and the token of the timeline just before it (undefined: not found). */
  context(eventId: string): Promise<{ event: LineageEvent; before: string | undefined } | undefined>;
  /** The next page going back from a token, and the token after it (undefined: the start of the room). */
  page(from: string): Promise<{ events: LineageEvent[]; next: string | undefined }>;
  /** One event by ID, when the others cannot give it with its `replaces_state`. */
  event(eventId: string): Promise<LineageEvent | undefined>;
}

/** A lookup for the chain walk (./history.ts stateChain), reading the timeline a page at a time. */
export function pagedLookup(source: PagedSource): (eventId: string) => Promise<LineageEvent | undefined> {
  let held = new Map<string, LineageEvent>();
  let token: string | undefined;
  // An event without `replaces_state` may only lack it in this answer: ask for it alone.
  const checked = async (e: LineageEvent | undefined, id: string) => (e && e.replaces !== undefined ? e : source.event(id));
  return async (eventId) => {
    const hit = held.get(eventId);
    if (hit) return hit;
    if (token !== undefined) {
      const p = await source.page(token);
      token = p.next;
      held = new Map(p.events.map((e) => [e.eventId, e]));
      const found = held.get(eventId);
      // A page whose events carry `replaces_state` shows the server sends it: one without it begins the chain.
      if (found) return found.replaces !== undefined || p.events.some((e) => e.replaces !== undefined) ? found : source.event(eventId);
    }
    const c = await source.context(eventId);
    token = c?.before;
    held = new Map();
    return checked(c?.event, eventId);
  };
}
