/**
 * The runtime matrix (docs/RUNTIMES.md): one smoke scenario (test/runtimes/smoke.ts) in Node, Bun,
 * Deno (network permission for the homeserver only), workerd with and without nodejs_compat, and
 * headless Chromium, each against the run's stock Synapse, each with its own users and rooms.
 * Every step must pass in every runtime: open, put/get/delete in both state key modes, watch seeing
 * another writer, an encrypted value read by another user's device, close.
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { testHomeserver, newUser } from "../helpers/homeserver.js";
import { sharedRoom } from "../helpers/rooms.js";
import { RUNTIMES, runSmoke } from "../helpers/runtimes.js";
import { STEPS, type SmokeConfig } from "../runtimes/smoke.js";

let homeserver: string;

before(async () => {
  homeserver = (await testHomeserver()).info.baseUrl;
});

/** Fresh users per runtime: each runtime's memories make new crypto accounts for their devices. */
async function configFor(runtime: string): Promise<SmokeConfig> {
  const [a, b] = await Promise.all([newUser("rt-a"), newUser("rt-b")]);
  const [plainRoom, encryptedRoom] = [await sharedRoom(a, [b]), await sharedRoom(a, [b], { encrypted: true })];
  const user = (u: typeof a) => ({ userId: u.userId, accessToken: u.accessToken, deviceId: u.deviceId });
  return { homeserver, a: user(a), b: user(b), plainRoom, encryptedRoom, prefix: `${runtime.replace(/\W/g, "-")}-${Date.now().toString(36)}` };
}

for (const runtime of RUNTIMES) {
  test(`runtime matrix: ${runtime}`, { timeout: 300_000 }, async () => {
    const results = await runSmoke(runtime, await configFor(runtime));
    const table = Object.fromEntries(results.map((r) => [r.step, r.ok ? "ok" : r.error]));
    assert.deepEqual(table, Object.fromEntries(STEPS.map((s) => [s, "ok"])), `${runtime}: ${JSON.stringify(table, null, 2)}`);
  });
}
