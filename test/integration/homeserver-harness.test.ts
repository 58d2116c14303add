import { test } from "node:test";
import assert from "node:assert/strict";
import { isMatrixError } from "../../src/http/errors.js";
import { whoami } from "../../src/http/endpoints/account/whoami.js";
import { getHealth } from "../../src/http/endpoints/admin/health.js";
import { getServerVersion } from "../../src/http/endpoints/admin/server-version.js";
import { SYNAPSE_VERSION } from "../../src/homeserver/synapse.js";
import { newUser, testHomeserver } from "../helpers/homeserver.js";

test("the test homeserver is up on loopback and answers /health with OK", { timeout: 180_000 }, async () => {
  const hs = await testHomeserver();
  assert.match(hs.info.baseUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
  const client = hs.client();
  try {
    assert.equal(new TextDecoder().decode(await client.send(getHealth, undefined)), "OK");
    assert.equal(await hs.isRunning(), true);
  } finally {
    await client.close();
  }
});

test("it runs the pinned Synapse version", { timeout: 180_000 }, async () => {
  const hs = await testHomeserver();
  assert.equal(hs.info.version, SYNAPSE_VERSION);
  const client = hs.client();
  try {
    const { server_version } = await client.send(getServerVersion, undefined);
    assert.equal(server_version.split(" ")[0], SYNAPSE_VERSION);
  } finally {
    await client.close();
  }
});

test("a registered user's token passes /account/whoami", { timeout: 180_000 }, async () => {
  const user = await newUser("whoami");
  try {
    const me = await user.client.send(whoami, undefined);
    assert.equal(me.user_id, user.userId);
    assert.equal(me.device_id, user.deviceId);
    assert.match(user.userId, /^@whoami-[0-9a-f]{10}:localhost$/);
  } finally {
    await user.client.close();
  }
});

test("registering a taken localpart fails with M_USER_IN_USE", { timeout: 180_000 }, async () => {
  const hs = await testHomeserver();
  const localpart = `twice-${Date.now().toString(36)}`;
  await hs.registerUser(localpart);
  await assert.rejects(hs.registerUser(localpart), (error: unknown) => isMatrixError(error, "M_USER_IN_USE"));
});

test("a rate-limit override is stored for the user and can be read back", { timeout: 180_000 }, async () => {
  const hs = await testHomeserver();
  const admin = await hs.adminUser();
  const user = await newUser("limited");
  try {
    assert.equal(await hs.readRateLimitOverride(admin.accessToken, user.userId), undefined);
    const set = await hs.overrideRateLimit(admin.accessToken, user.userId, { messagesPerSecond: 1, burstCount: 10 });
    assert.deepEqual(set, { messagesPerSecond: 1, burstCount: 10 });
    assert.deepEqual(await hs.readRateLimitOverride(admin.accessToken, user.userId), { messagesPerSecond: 1, burstCount: 10 });
    // A non-admin token is refused.
    await assert.rejects(hs.overrideRateLimit(user.accessToken, user.userId, { messagesPerSecond: 0, burstCount: 0 }), (e: unknown) => isMatrixError(e, "M_FORBIDDEN"));
  } finally {
    await user.client.close();
  }
});
