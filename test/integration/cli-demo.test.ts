/** `npm start`'s demo end to end: it starts its own throwaway Synapse, runs, and ends by itself. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { projectRoot } from "../../src/homeserver/venv.js";

test("the demo exits 0 by itself, without stdin, and ends with the wire summary", { timeout: 600_000 }, async () => {
  const root = projectRoot();
  const child = spawn(process.execPath, ["--import", "tsx", join(root, "src", "cli", "demo.ts")], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  assert.equal(code, 0, `${stdout}\n${stderr}`);
  for (const step of ["[1/7]", "[4/7]", "[7/7]"]) assert.ok(stdout.includes(step), `step ${step} printed`);
  assert.match(stdout, /bob: get greeting -> \{"n":1,"text":"hello from alice"\}/);
  assert.match(stdout, /alice: dump -> \{"from_alice":"a","from_bob":"b"\}/, "both concurrent writes survived, the deleted keys are gone");
  assert.match(stdout, /What went over the wire/);
  assert.match(stdout, /alice: 22 put\(\) calls and 0 delete\(\) calls -> \d+ state PUTs?/);
  assert.match(stdout, /\d+ requests, \d+ bytes sent, \d+ bytes received/);
  assert.match(stdout, /── .*PUT http:\/\/127\.0\.0\.1:\d+\/_matrix\/client\/v3\/rooms\/.*\/state\/dev\.opsdroid\.database\//, "an exchange is shown as mxdb trace prints it");
  assert.doesNotMatch(stdout, /syt_/, "no access token is printed");
  assert.match(stdout, /the homeserver is stopped/);
});
