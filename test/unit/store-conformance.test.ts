/**
 * The Store conformance suite (test/runtimes/store-conformance.ts) on MemoryStore and FileStore;
 * IndexedDBStore runs the same suite in Chromium (test/integration/store-indexeddb.test.ts).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileStore } from "../../src/store/file-store.js";
import { MemoryStore, type Store } from "../../src/store/store.js";
import { CONFORMANCE_CASES, storeConformance } from "../runtimes/store-conformance.js";

const expected = Object.fromEntries(CONFORMANCE_CASES.map((c) => [c, "ok"]));
const table = (results: Awaited<ReturnType<typeof storeConformance>>) => Object.fromEntries(results.map((r) => [r.name, r.ok ? "ok" : r.error]));

test("Store conformance: MemoryStore", { timeout: 60_000 }, async () => {
  const stores = new Map<string, Store>();
  const open = (name: string) => stores.get(name) ?? stores.set(name, new MemoryStore()).get(name)!;
  assert.deepEqual(table(await storeConformance(open, "mem")), expected);
});

test("Store conformance: FileStore", { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "mxdb-conformance-"));
  try {
    assert.deepEqual(table(await storeConformance((name) => new FileStore(join(dir, name)), "file")), expected);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the suite can fail: a store that drops deletes is caught", { timeout: 60_000 }, async () => {
  class Forgetful extends MemoryStore {
    override async setMany(entries: Record<string, string | undefined>): Promise<void> {
      await super.setMany(Object.fromEntries(Object.entries(entries).filter(([, v]) => v !== undefined)));
    }
  }
  const stores = new Map<string, Store>();
  const results = await storeConformance((name) => stores.get(name) ?? stores.set(name, new Forgetful()).get(name)!, "bad");
  assert.deepEqual(results.filter((r) => !r.ok).map((r) => r.name), ["setMany writes and deletes together; delete of an absent key is no error"]);
});
