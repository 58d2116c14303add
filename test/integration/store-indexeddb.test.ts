/**
 * IndexedDBStore in a real browser (headless Chromium, test/helpers/runtimes.ts): the Store
 * conformance suite, and a Memory that closes and opens again on its IndexedDB database, its crypto
 * state sealed there (AES-GCM records, the key kept by the store) and restored, so the device's
 * keys are its own after the reopen.
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { testHomeserver, newUser } from "../helpers/homeserver.js";
import { sharedRoom } from "../helpers/rooms.js";
import { inChromium } from "../helpers/runtimes.js";
import { CONFORMANCE_CASES, type CaseResult } from "../runtimes/store-conformance.js";

let homeserver: string;
before(async () => {
  homeserver = (await testHomeserver()).info.baseUrl;
});

test("Store conformance: IndexedDBStore in Chromium", { timeout: 180_000 }, async () => {
  const results = await inChromium("test/runtimes/page.ts", (page) => page.evaluate((p) => (globalThis as unknown as { runStoreConformance: (p: string) => Promise<CaseResult[]> }).runStoreConformance(p), `idb-${Date.now()}`));
  assert.deepEqual(Object.fromEntries(results.map((r) => [r.name, r.ok ? "ok" : r.error])), Object.fromEntries(CONFORMANCE_CASES.map((c) => [c, "ok"])));
});

test("a Memory on IndexedDBStore reopens with its token and its sealed crypto state", { timeout: 180_000 }, async () => {
  const user = await newUser("idb");
  const room = await sharedRoom(user, [], { encrypted: true });
  const config = { homeserver, user: { userId: user.userId, accessToken: user.accessToken, deviceId: user.deviceId }, room, prefix: Date.now().toString(36) };
  const out = await inChromium("test/runtimes/page.ts", (page) => page.evaluate((c) => (globalThis as unknown as { runReopen: (c: unknown) => Promise<unknown> }).runReopen(c), config));
  const o = out as { values: unknown; tokenSaved: boolean; cryptoEntries: number; cryptoSealed: boolean; plaintextPickle: boolean };
  assert.deepEqual(o.values, { first: { n: 1 }, second: { n: 2 } });
  assert.equal(o.tokenSaved, true);
  assert.ok(o.cryptoEntries > 0, "the crypto state is in the IndexedDB store");
  assert.equal(o.cryptoSealed, true, "every crypto entry is an AES-GCM record");
  assert.equal(o.plaintextPickle, false);
});
