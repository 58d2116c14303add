/**
 * The runtime matrix (docs/RUNTIMES.md): one smoke scenario (test/runtimes/smoke.ts) in Node, Bun,
 * Deno (network permission for the homeserver only), workerd with and without nodejs_compat, and
 * headless Chromium, each against the run's stock Synapse, each with its own users and rooms.
 * Every step must pass in every runtime: open, put/get/delete in both state key modes, watch seeing
 * another writer, an encrypted value read by another user's device, inRoom (scoped where the runtime
 * has AsyncLocalStorage, refused with RoomScopeUnavailableError where it has not), close.
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { getStateContent } from "../../src/http/endpoints/state/get-state.js";
import { testHomeserver, newUser } from "../helpers/homeserver.js";
import { sharedRoom } from "../helpers/rooms.js";
import { inWorkerd, RUNTIMES, runSmoke } from "../helpers/runtimes.js";
import { STEPS, type SmokeConfig } from "../runtimes/smoke.js";

let homeserver: string;

before(async () => {
  homeserver = (await testHomeserver()).info.baseUrl;
});

/** Fresh users per runtime: each runtime's memories make new crypto accounts for their devices. */
/** Where inRoom has AsyncLocalStorage: everywhere but plain Workers and browsers. */
const WITHOUT_ROOM_SCOPE = new Set(["workerd", "chromium"]);

async function configFor(runtime: string): Promise<SmokeConfig> {
  const [a, b] = await Promise.all([newUser("rt-a"), newUser("rt-b")]);
  const [plainRoom, encryptedRoom] = [await sharedRoom(a, [b]), await sharedRoom(a, [b], { encrypted: true })];
  const user = (u: typeof a) => ({ userId: u.userId, accessToken: u.accessToken, deviceId: u.deviceId });
  return { homeserver, a: user(a), b: user(b), plainRoom, encryptedRoom, prefix: `${runtime.replace(/\W/g, "-")}-${Date.now().toString(36)}`, expectRoomScope: !WITHOUT_ROOM_SCOPE.has(runtime) };
}

for (const runtime of RUNTIMES) {
  test(`runtime matrix: ${runtime}`, { timeout: 300_000 }, async () => {
    const results = await runSmoke(runtime, await configFor(runtime));
    const table = Object.fromEntries(results.map((r) => [r.step, r.ok ? "ok" : r.error]));
    assert.deepEqual(table, Object.fromEntries(STEPS.map((s) => [s, "ok"])), `${runtime}: ${JSON.stringify(table, null, 2)}`);
  });
}

test("Workers: a Memory kept in a global and used by a later request: its calls end, and its write lands", { timeout: 300_000 }, async () => {
  const config = await configFor("workerd-stale");
  const [opened, used] = await inWorkerd(config, false, ["/stale/open", "/stale/use"]);
  assert.deepEqual(opened, { opened: true });
  const u = used as Record<"put" | "flush" | "close", { ms: number; error?: string }>;
  // The second request answered, so nothing hung. workerd lets a later request's fetches through;
  // where it refuses (an I/O object of the ended request), the unit tests show TransportRefusedError at once.
  assert.deepEqual({ put: u.put.error, flush: u.flush.error, close: u.close.error }, { put: undefined, flush: undefined, close: undefined }, JSON.stringify(u));
  const hs = await testHomeserver();
  const content = await hs.client(config.a.accessToken).send(getStateContent, { roomId: config.plainRoom, eventType: "dev.opsdroid.database", stateKey: "" });
  assert.deepEqual((content as Record<string, unknown>)[`${config.prefix}-stale`], { n: 2 });
});
