/**
 * Reads as of a point (docs/HISTORY.md "Reads as of a time") and legacy chains ("Rooms opsdroid wrote
 * before its migration") on sources built here: the room's state at an event answers without the
 * walk; a redacted legacy event takes the migration copy's content; without stateAt the walk answers.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { keyHistory, type HistorySource, type KeyVersion } from "../../src/db/history.js";
import { valueAt } from "../../src/db/history-at.js";
import type { LineageEvent } from "../../src/db/lineage.js";

const dev: LineageEvent[] = [
  { eventId: "$d1", replaces: undefined, content: { k: 3, o: "y" }, ts: 50, sender: "@mxdb" },
  { eventId: "$d2", replaces: "$d1", content: { k: 4, o: "y" }, ts: 60, sender: "@mxdb" },
];
const legacy: LineageEvent[] = [
  { eventId: "$l1", replaces: undefined, content: { k: 1, o: "x" }, ts: 10, sender: "@old" },
  { eventId: "$l2", replaces: "$l1", content: { o: "x" }, ts: 20, sender: "@old" },
  // Redacted by the migration, which copied it to $d1.
  { eventId: "$l3", replaces: "$l2", content: {}, ts: 30, sender: "@old", redacted: true },
];

function source(withStateAt: boolean, walked: string[] = []): HistorySource {
  const all = new Map([...dev, ...legacy].map((e) => [e.eventId, e]));
  const base: HistorySource = {
    current: async () => dev.at(-1),
    event: async (id) => (walked.push(id), all.get(id)),
    reveal: async (v) => v,
    legacy: { current: async () => legacy.at(-1), asCurrent: (c) => c },
  };
  if (!withStateAt) return base;
  // The state just after each event, as /context gives it.
  const order = [...legacy, ...dev].sort((a, b) => a.ts - b.ts);
  return {
    ...base,
    eventBefore: async (ts) => order.filter((e) => e.ts <= ts).at(-1)?.eventId,
    stateAt: async (id) => {
      const i = order.findIndex((e) => e.eventId === id);
      if (i < 0) return undefined;
      const seen = order.slice(0, i + 1);
      const current = seen.filter((e) => dev.includes(e)).at(-1);
      const old = seen.filter((e) => legacy.includes(e)).at(-1);
      return { ...(current ? { current } : {}), ...(old ? { legacy: old } : {}) };
    },
  };
}

test("the history goes on below the migration, the redacted legacy event read as its copy", { timeout: 10_000 }, async () => {
  const out: KeyVersion[] = [];
  for await (const v of keyHistory("k", source(false))) out.push(v);
  assert.deepEqual(
    out.map((v) => [v.eventId, v.deleted ? "deleted" : v.value, v.legacy ?? false]),
    [
      ["$d2", 4, false],
      ["$l3", 3, true],
      ["$l2", "deleted", true],
      ["$l1", 1, true],
    ],
  );
});

test("valueAt: from the room's state at the point, without walking; the walk where the state cannot say", { timeout: 10_000 }, async () => {
  const walked: string[] = [];
  const s = source(true, walked);
  const at = (when: string | number) => valueAt("k", s, when, async () => undefined);
  assert.deepEqual(await at(65), { present: true, value: 4 });
  assert.deepEqual(await at(55), { present: true, value: 3 });
  assert.deepEqual(await at(15), { present: true, value: 1 });
  assert.deepEqual(await at(25), { present: false, value: undefined });
  assert.deepEqual(await at(5), { present: false, value: undefined }, "before the room's first event");
  assert.deepEqual(await at("$d2"), { present: true, value: 4 });
  assert.deepEqual(await at("$nowhere"), { present: false, value: undefined });
  assert.deepEqual(walked, []);
  // At the redacted legacy event only (before the copy): its value is the copy's, found by the walk.
  assert.deepEqual(await at(35), { present: true, value: 3 });
  assert.notDeepEqual(walked, []);
  // Without stateAt, the walk gives the same answers.
  const w = source(false);
  for (const when of [65, 55, 35, 25, 15, 5]) assert.deepEqual(await valueAt("k", w, when, async () => undefined), await at(when), `at ${when}`);
});
