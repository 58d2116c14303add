/**
 * `mxdb crypto bootstrap|status|sign-device` as child processes on the run's Synapse: the first device
 * publishes the cross-signing keys and is signed; a second device (another MXDB_HOME) finds them made
 * by another client and leaves them, until the first device cross-signs it or the recovery key
 * restores them; an unknown device is refused with a typed error.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { projectRoot } from "../../src/homeserver/venv.js";
import { newUser, testHomeserver, type TestUser } from "../helpers/homeserver.js";
import { sharedRoom } from "../helpers/rooms.js";

const root = projectRoot();
const MAIN = join(root, "src", "cli", "main.ts");
const dirs: string[] = [];
let baseUrl: string;
let alice: TestUser;
let roomId: string;

function mxdb(home: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", MAIN, ...args], { cwd: root, env: { ...process.env, MXDB_HOME: home, MXDB_RECOVERY_KEY: undefined, MXDB_PASSWORD: undefined, ...env }, stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  child.stdin.end("");
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
}

async function newHome(): Promise<{ home: string; deviceId: string }> {
  const home = mkdtempSync(join(tmpdir(), "mxdb-cli-crypto-"));
  dirs.push(home);
  const r = await mxdb(home, ["login", "--homeserver", baseUrl, "--user", alice.userId, "--room", roomId, "--json"], { MXDB_PASSWORD: alice.password });
  assert.equal(r.code, 0, r.stderr);
  return { home, deviceId: (JSON.parse(r.stdout) as { deviceId: string }).deviceId };
}

const json = <T>(r: { code: number | null; stdout: string; stderr: string }, code = 0): T => {
  assert.equal(r.code, code, r.stderr);
  return JSON.parse(r.stdout) as T;
};

before(async () => {
  baseUrl = (await testHomeserver()).info.baseUrl;
  alice = await newUser("cli-crypto");
  roomId = await sharedRoom(alice, [], { encrypted: true });
});
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test("crypto bootstrap publishes and signs; a second device is left alone, then cross-signed by the first or restored with the recovery key", { timeout: 600_000 }, async () => {
  const one = await newHome();
  const made = json<{ action: string; state: string; deviceSigned: boolean; masterKey: string }>(await mxdb(one.home, ["crypto", "bootstrap", "--json"], { MXDB_PASSWORD: alice.password }));
  // The first encrypted use (opening in an encrypted room) may already have made them.
  assert.ok(["created", "unchanged"].includes(made.action), made.action);
  assert.deepEqual([made.state, made.deviceSigned], ["ours", true]);

  const two = await newHome();
  const left = json<{ action: string; state: string; masterKey: string; deviceSigned: boolean }>(await mxdb(two.home, ["crypto", "bootstrap", "--json"]), 1);
  assert.deepEqual([left.action, left.state, left.masterKey, left.deviceSigned], ["foreign", "foreign", made.masterKey, false]);

  // The first device sees the second, not cross-signed; signs it; then it is.
  const before = json<{ devices: { deviceId: string; crossSigned: boolean }[] }>(await mxdb(one.home, ["crypto", "status", "--json"]));
  assert.deepEqual(before.devices, [{ deviceId: two.deviceId, crossSigned: false }]);
  assert.deepEqual(json(await mxdb(one.home, ["crypto", "sign-device", two.deviceId, "--json"])), { deviceId: two.deviceId, crossSigned: true });
  const afterSign = json<{ devices: { deviceId: string; crossSigned: boolean }[] }>(await mxdb(one.home, ["crypto", "status", "--json"]));
  assert.deepEqual(afterSign.devices, [{ deviceId: two.deviceId, crossSigned: true }]);

  const unknown = await mxdb(one.home, ["crypto", "sign-device", "NOSUCHDEVICE"]);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /CROSS_SIGNING: the homeserver has no device NOSUCHDEVICE/);

  // The recovery key restores the keys on the second device.
  const created = json<{ recoveryKey: string }>(await mxdb(one.home, ["recovery", "create", "--json"]));
  const restored = json<{ action: string; state: string; masterKey: string; deviceSigned: boolean }>(await mxdb(two.home, ["crypto", "bootstrap", "--json"], { MXDB_RECOVERY_KEY: created.recoveryKey }));
  assert.deepEqual([restored.action, restored.state, restored.masterKey, restored.deviceSigned], ["restored", "ours", made.masterKey, true]);
  const usage = await mxdb(two.home, ["crypto", "frobnicate"]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /crypto needs bootstrap, status or sign-device, not "frobnicate"/);
});
