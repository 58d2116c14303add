/**
 * One conformance suite for every Store (src/store/store.ts), portable so that it runs where each
 * store lives: MemoryStore and FileStore under node:test (test/unit/store-conformance.test.ts),
 * IndexedDBStore in headless Chromium (test/integration/store-indexeddb.test.ts). Each case reports
 * instead of throwing, so the caller shows which case failed where.
 *
 * `open(name)` opens the store called `name`; opening the same name again must see what was written
 * (a MemoryStore factory returns the same object, as it has nowhere else to keep it).
 */
import type { Store } from "../../src/store/store.js";

export interface CaseResult {
  name: string;
  ok: boolean;
  error?: string;
}

type Open = (name: string) => Promise<Store> | Store;

function eq(actual: unknown, expected: unknown, what: string): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: got ${a}, expected ${e}`);
}

async function rejects(p: Promise<unknown>, what: string): Promise<void> {
  try {
    await p;
  } catch {
    return;
  }
  throw new Error(`${what}: did not reject`);
}

const CASES: [string, (open: Open, name: string) => Promise<void>][] = [
  ["absent keys read as undefined; set then get", async (open, name) => {
    const s = await open(name);
    eq(await s.get("nope"), undefined, "absent");
    await s.set("a", "1");
    eq(await s.get("a"), "1", "after set");
    await s.set("a", "2");
    eq(await s.get("a"), "2", "after overwrite");
  }],
  ["keys: sorted, filtered by prefix", async (open, name) => {
    const s = await open(name);
    await s.setMany({ "sync/b": "2", "sync/a": "1", "crypto/x": "3", "sync": "4" });
    eq(await s.keys("sync/"), ["sync/a", "sync/b"], "prefix");
    eq(await s.keys(), ["crypto/x", "sync", "sync/a", "sync/b"], "all");
    eq(await s.keys("zzz"), [], "no match");
  }],
  ["setMany writes and deletes together; delete of an absent key is no error", async (open, name) => {
    const s = await open(name);
    await s.setMany({ a: "1", b: "2", c: "3" });
    await s.setMany({ a: undefined, b: "22", d: "4", never: undefined });
    eq(await s.keys(), ["b", "c", "d"], "keys");
    eq(await s.get("b"), "22", "b");
    await s.delete("c");
    await s.delete("c");
    eq(await s.get("c"), undefined, "deleted");
  }],
  ["values keep every character: newlines, quotes, NUL, non-BMP, a megabyte", async (open, name) => {
    const s = await open(name);
    const odd = 'line\nbreak\t"quoted" \\ \u0000 é 漢 🙂';
    const big = "x".repeat(1024 * 1024);
    await s.setMany({ odd, [odd]: "key too", big, empty: "" });
    eq(await s.get("odd"), odd, "odd value");
    eq(await s.get(odd), "key too", "odd key");
    eq((await s.get("big"))?.length, big.length, "big value");
    eq(await s.get("empty"), "", "empty string is a value, not absent");
  }],
  ["writes are applied in call order, none lost", async (open, name) => {
    const s = await open(name);
    await Promise.all(Array.from({ length: 30 }, (_, i) => s.setMany({ [`k${i}`]: String(i), last: String(i) })));
    eq((await s.keys("k")).length, 30, "every key");
    eq(await s.get("last"), "29", "the last call wins");
  }],
  ["a value that is not a string is refused, and nothing of that call is written", async (open, name) => {
    const s = await open(name);
    await s.set("a", "1");
    await rejects(s.setMany({ a: "2", b: 3 as unknown as string }), "number value");
    eq(await s.get("a"), "1", "a unchanged");
    eq(await s.get("b"), undefined, "b not written");
    await s.set("a", "3");
    eq(await s.get("a"), "3", "the store still writes after a refusal");
  }],
  ["what was written is there when the store is opened again", async (open, name) => {
    const s = await open(name);
    await s.setMany({ token: "s1", "sync/room/!r": "{}", gone: "x" });
    await s.delete("gone");
    await s.close?.();
    const again = await open(name);
    eq(await again.keys(), ["sync/room/!r", "token"], "keys after reopen");
    eq(await again.get("token"), "s1", "value after reopen");
  }],
];

export const CONFORMANCE_CASES = CASES.map(([name]) => name);

/** Run every case, each on a fresh store named `<prefix>-<n>`. */
export async function storeConformance(open: Open, prefix: string): Promise<CaseResult[]> {
  const out: CaseResult[] = [];
  let n = 0;
  for (const [name, run] of CASES) {
    const storeName = `${prefix}-${n++}`;
    try {
      await run(open, storeName);
      out.push({ name, ok: true });
    } catch (e) {
      out.push({ name, ok: false, error: e instanceof Error ? e.message : String(e) });
    }
  }
  return out;
}
