/**
 * `mxdb homeserver start --servers 2`: two federating Synapses for a newcomer, the user mxdb on
 * each and a room they share. A put through the local default (the first server's user) is read
 * on the second server with its user's credentials; `homeserver stop` stops both and removes them.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { projectRoot } from "../../src/homeserver/venv.js";
import { pidAlive } from "../../src/homeserver/process.js";
import type { LocalHomeserver } from "../../src/cli/home.js";
import { eventually } from "../helpers/wait.js";

const MAIN = join(projectRoot(), "src", "cli", "main.ts");
const home = mkdtempSync(join(tmpdir(), "mxdb-cli-federation-"));

function mxdb(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", MAIN, ...args], { cwd: projectRoot(), env: { ...process.env, MXDB_HOME: home }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
}

after(async () => {
  await mxdb(["homeserver", "stop"]);
  rmSync(home, { recursive: true, force: true });
});

test("homeserver start --servers 2: two federating servers, a user on each, one shared room", { timeout: 300_000 }, async () => {
  const started = await mxdb(["homeserver", "start", "--servers", "2", "--json"]);
  assert.equal(started.code, 0, started.stderr);
  const local = JSON.parse(started.stdout) as LocalHomeserver;
  assert.equal(local.servers?.length, 2);
  const [first, second] = local.servers!;
  assert.match(first!.serverName, /^localhost:\d+$/);
  assert.match(second!.serverName, /^localhost:\d+$/);
  assert.deepEqual(local.users.map((u) => u.userId), [`@mxdb:${first!.serverName}`, `@mxdb:${second!.serverName}`]);
  assert.equal(local.users[1]!.baseUrl, second!.baseUrl);
  assert.equal(local.roomAlias, `#mxdb:${first!.serverName}`);

  const put = await mxdb(["put", "greeting", '{"from":"server one"}']);
  assert.equal(put.code, 0, put.stderr);
  const other = local.users[1]!;
  const read = await eventually(
    () => mxdb(["get", "greeting", "--homeserver", second!.baseUrl, "--access-token", other.accessToken, "--room", local.roomId]),
    (r) => r.code === 0 && r.stdout.trim() !== "",
    60_000,
    500,
  );
  assert.equal(read.code, 0, read.stderr);
  assert.deepEqual(JSON.parse(read.stdout), { from: "server one" });

  const status = await mxdb(["homeserver", "status", "--json"]);
  const s = JSON.parse(status.stdout) as { running: boolean; servers: Array<{ pid: number }> };
  assert.equal(s.running, true);
  const stopped = await mxdb(["homeserver", "stop"]);
  assert.equal(stopped.code, 0, stopped.stderr);
  for (const { pid } of s.servers) assert.equal(pidAlive(pid), false, `Synapse ${pid} stopped`);
  assert.equal(existsSync(join(home, "homeserver")), false);
});
