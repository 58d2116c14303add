import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { whoami } from "../../src/http/endpoints/account/whoami.js";
import { Homeserver, STATE_FILE } from "../../src/homeserver/synapse.js";
import { pidAlive } from "../../src/homeserver/process.js";

// These start their own Synapse: the run's shared one must never be stopped by a test.

test("stopProcess/startProcess restarts on the same port with the same data", { timeout: 180_000 }, async () => {
  const hs = await Homeserver.start({ rateLimits: "default" });
  const { dir, port, pid } = hs.info;
  try {
    assert.equal(hs.info.rateLimits, "default");
    const alice = await hs.registerUser("alice");
    await hs.stopProcess();
    assert.equal(pidAlive(pid), false);
    assert.equal(await hs.isRunning(), false);
    await hs.startProcess();
    assert.equal(hs.info.port, port);
    assert.notEqual(hs.info.pid, pid);
    // The access token still works: the SQLite data survived the restart.
    const client = hs.client(alice.accessToken);
    try {
      assert.equal((await client.send(whoami, undefined)).user_id, alice.userId);
    } finally {
      await client.close();
    }
  } finally {
    await hs.stop();
  }
  assert.equal(existsSync(dir), false, "stop() removes the temp dir");
});

test("a detached homeserver is found again by attach(dir) and stopped from there", { timeout: 180_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "mxdb-detached-test-"));
  try {
    const hs = await Homeserver.start({ dir, detached: true });
    const statePath = join(dir, STATE_FILE);
    assert.equal(statSync(statePath).mode & 0o777, 0o600, "the state file holds the shared secret");
    const again = Homeserver.attach(dir);
    assert.equal(again.info.pid, hs.info.pid);
    assert.equal(again.info.baseUrl, hs.info.baseUrl);
    assert.equal(await again.isRunning(), true);
    const bob = await again.registerUser("bob");
    assert.equal(bob.userId, "@bob:localhost");
    await again.stop();
    assert.equal(pidAlive(hs.info.pid), false);
    assert.equal(existsSync(statePath), false);
    assert.equal(existsSync(join(dir, "homeserver.yaml")), true, "a caller's dir is kept");
    await hs.stop();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
