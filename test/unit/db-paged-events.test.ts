/**
 * A shared state key's chain read through the timeline a page at a time (src/db/paged-events.ts), on
 * a timeline built here: the walk gives the same events as one GET per link, with a page per 100
 * events; a fork's loser in the timeline is passed over; a link the page lacks is fetched by context.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { stateChain } from "../../src/db/history.js";
import type { LineageEvent } from "../../src/db/lineage.js";
import { PAGE_EVENTS, pagedLookup, type PagedSource } from "../../src/db/paged-events.js";

/** The timeline oldest first; tokens are positions: a page from token t holds the events below t. */
function timeline(events: LineageEvent[], calls: string[], hide = new Set<string>()): PagedSource {
  const at = (id: string) => events.findIndex((e) => e.eventId === id);
  return {
    context: async (id) => (calls.push(`context ${id}`), at(id) < 0 ? undefined : { event: events[at(id)]!, before: String(at(id)) }),
    page: async (from) => {
      calls.push(`page ${from}`);
      const end = Number(from);
      const start = Math.max(0, end - PAGE_EVENTS);
      return { events: events.slice(start, end).reverse().filter((e) => !hide.has(e.eventId)), next: start === 0 ? undefined : String(start) };
    },
    event: async (id) => (calls.push(`event ${id}`), events[at(id)]),
  };
}

const chain = (n: number) => Array.from({ length: n }, (_, i): LineageEvent => ({ eventId: `$${i}`, replaces: i === 0 ? undefined : `$${i - 1}`, content: { n: i }, ts: i }));
const walk = async (first: LineageEvent, lookup: (id: string) => Promise<LineageEvent | undefined>) => {
  const ids: string[] = [];
  for await (const e of stateChain(first, lookup)) ids.push(e.eventId);
  return ids;
};

test("the chain through pages: the same events as one GET per link, one page per 100 events", { timeout: 10_000 }, async () => {
  const events = chain(250);
  const calls: string[] = [];
  const ids = await walk(events.at(-1)!, pagedLookup(timeline(events, calls)));
  assert.deepEqual(ids, events.map((e) => e.eventId).reverse());
  assert.deepEqual(calls, ["context $248", "page 248", "page 148", "page 48"]);
});

test("a fork's loser in the timeline is passed over; a link missing from the page is fetched by context", { timeout: 10_000 }, async () => {
  const events = chain(30);
  // A loser forked off $10, stored between $11 and $12: in the timeline, not in the chain.
  events.splice(12, 0, { eventId: "$loser", replaces: "$10", content: { n: -1 }, ts: 11 });
  const calls: string[] = [];
  const ids = await walk(events.at(-1)!, pagedLookup(timeline(events, calls, new Set(["$5"]))));
  assert.deepEqual(ids, chain(30).map((e) => e.eventId).reverse());
  assert.deepEqual(calls, ["context $28", "page 29", "context $5", "page 5"]);
});
