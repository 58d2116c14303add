/**
 * `mxdb recovery create|restore|status` as child processes on the run's Synapse: create prints the key
 * once (--json), restore in a new MXDB_HOME (a new device, no store) reads it from MXDB_RECOVERY_KEY or
 * standard input and every value reads; the key is refused from argv without being echoed, and it is
 * in no trace file.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { projectRoot } from "../../src/homeserver/venv.js";
import { decodeRecoveryKey } from "../../src/crypto/backup/recovery-key.js";
import { newUser, testHomeserver, type TestUser } from "../helpers/homeserver.js";
import { sharedRoom } from "../helpers/rooms.js";

const root = projectRoot();
const MAIN = join(root, "src", "cli", "main.ts");
const dirs: string[] = [];
let baseUrl: string;
let alice: TestUser;
let roomId: string;

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "mxdb-cli-recovery-"));
  dirs.push(d);
  return d;
}

function mxdb(home: string, args: string[], options: { env?: NodeJS.ProcessEnv; stdin?: string } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", MAIN, ...args], { cwd: root, env: { ...process.env, MXDB_HOME: home, MXDB_RECOVERY_KEY: undefined, ...options.env }, stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  child.stdin.end(options.stdin ?? "");
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
}

/** A new home logged in once (a new device): later commands use its saved session, not another login. */
async function newHome(): Promise<string> {
  const home = tempDir();
  const r = await mxdb(home, ["login", "--homeserver", baseUrl, "--user", alice.userId, "--room", roomId], { env: { MXDB_PASSWORD: alice.password } });
  assert.equal(r.code, 0, r.stderr);
  return home;
}
const as = (): string[] => [];

before(async () => {
  baseUrl = (await testHomeserver()).info.baseUrl;
  alice = await newUser("cli-recovery");
  roomId = await sharedRoom(alice, [], { encrypted: true });
});
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test("recovery create prints the key once; restore on a new device from the environment or stdin; every value reads; no key in argv or traces", { timeout: 600_000 }, async () => {
  const first = await newHome();
  const put = await mxdb(first, ["put", "secret", '{"a":[1,2,3]}', ...as()]);
  assert.equal(put.code, 0, put.stderr);
  const created = await mxdb(first, ["recovery", "create", "--json", ...as()]);
  assert.equal(created.code, 0, created.stderr);
  const { recoveryKey } = JSON.parse(created.stdout) as { recoveryKey: string };
  assert.deepEqual(Object.keys(JSON.parse(created.stdout) as object), ["recoveryKey"]);
  assert.match(recoveryKey, /^(\S{4} ){11}\S{4}$/);
  const put2 = await mxdb(first, ["put", "after", '"created"', ...as()]);
  assert.equal(put2.code, 0, put2.stderr);
  const raw = Buffer.from(decodeRecoveryKey(recoveryKey));
  const forms = [recoveryKey, recoveryKey.replace(/ /g, ""), raw.toString("base64").replace(/=+$/, ""), raw.toString("base64url"), raw.toString("hex")];

  // From argv: refused, not echoed.
  const argv = await mxdb(first, ["recovery", "restore", recoveryKey, ...as()]);
  assert.equal(argv.code, 2);
  for (const f of forms) assert.ok(!argv.stderr.includes(f) && !argv.stdout.includes(f));

  // From the environment, in a new home (new device, no store), traced.
  const second = await newHome();
  const traceFile = join(second, "trace.jsonl");
  const restored = await mxdb(second, ["recovery", "restore", "--json", "--trace", traceFile, ...as()], { env: { MXDB_RECOVERY_KEY: recoveryKey } });
  assert.equal(restored.code, 0, restored.stderr);
  const result = JSON.parse(restored.stdout) as { imported: number; failed: number };
  assert.ok(result.imported >= 1);
  assert.equal(result.failed, 0);
  const got = await mxdb(second, ["get", "secret", ...as()]);
  assert.equal(got.code, 0, got.stderr);
  assert.deepEqual(JSON.parse(got.stdout), { a: [1, 2, 3] });
  const gotAfter = await mxdb(second, ["get", "after", ...as()]);
  assert.equal(gotAfter.code, 0, gotAfter.stderr);
  assert.equal(JSON.parse(gotAfter.stdout), "created");
  const trace = readFileSync(traceFile, "utf8");
  assert.ok(trace.includes("room_keys/keys"));
  for (const f of forms) assert.ok(!trace.includes(f), `trace holds the key as ${f.slice(0, 6)}…`);

  // From standard input, in a third home.
  const third = await newHome();
  const piped = await mxdb(third, ["recovery", "restore", ...as()], { stdin: `${recoveryKey}\n` });
  assert.equal(piped.code, 0, piped.stderr);
  assert.match(piped.stdout, /^restored \d+ room keys from backup version \S+/);
  const status = await mxdb(third, ["recovery", "status", "--json", ...as()]);
  assert.equal(status.code, 0, status.stderr);
  const s = JSON.parse(status.stdout) as { secretStorageKeyId?: string; serverBackup?: { version: string }; deviceBackup?: { version: string; pending: number } };
  assert.ok(s.secretStorageKeyId);
  assert.equal(s.deviceBackup?.version, s.serverBackup?.version);
  assert.equal(s.deviceBackup?.pending, 0);

  // A wrong key: exit 1, one line, nothing restored.
  const wrong = await mxdb(await newHome(), ["recovery", "restore", ...as()], { env: { MXDB_RECOVERY_KEY: "EsTc LW2K PGiF wKEA 3As5 g5c4 BXwk qeeJ ZJV8 Q9fu gUMN UE4d" } });
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /WrongRecoveryKeyError|does not match/);
});
