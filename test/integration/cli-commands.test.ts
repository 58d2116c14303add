/**
 * The mxdb command as child processes against the run's shared Synapse, each with its own
 * temporary MXDB_HOME; credentials are passed with flags or a config file (no local homeserver).
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getStateContent } from "../../src/http/endpoints/state/get-state.js";
import { projectRoot } from "../../src/homeserver/venv.js";
import { newUser, testHomeserver, type TestUser } from "../helpers/homeserver.js";
import { sharedRoom } from "../helpers/rooms.js";
import { eventually } from "../helpers/wait.js";

const root = projectRoot();
const MAIN = join(root, "src", "cli", "main.ts");
let home: string;
let baseUrl: string;
let alice: TestUser;
let bob: TestUser;
let roomId: string;
const children: ChildProcess[] = [];

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function start(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess & { out: () => string; err: () => string; result: Promise<Result> } {
  const child = spawn(process.execPath, ["--import", "tsx", MAIN, ...args], { cwd: root, env: { ...process.env, MXDB_HOME: home, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const result = new Promise<Result>((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
  return Object.assign(child, { out: () => stdout, err: () => stderr, result });
}

const mxdb = (args: string[], env?: NodeJS.ProcessEnv) => start(args, env).result;
const as = (u: TestUser) => ["--homeserver", baseUrl, "--access-token", u.accessToken, "--room", roomId];

/**
 * Exactly one line on stderr besides the progress line a slow open prints after a second
 * ("mxdb: syncing with ...", src/cli/connect.ts; a loaded machine's password check can take that).
 */
function oneLine(stderr: string): string {
  const lines = stderr.trimEnd().split("\n").filter((l) => !/^mxdb: (syncing with .* \.\.\.|synced in [\d.]+ s)$/.test(l));
  assert.equal(lines.length, 1, `one line on stderr, got:\n${stderr}`);
  return lines[0]!;
}

before(async () => {
  home = mkdtempSync(join(tmpdir(), "mxdb-cli-test-"));
  baseUrl = (await testHomeserver()).info.baseUrl;
  [alice, bob] = await Promise.all([newUser("cli-alice"), newUser("cli-bob")]);
  roomId = await sharedRoom(alice, [bob]);
});

after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  await Promise.all([alice?.client.close(), bob?.client.close()]);
  rmSync(home, { recursive: true, force: true });
});

describe("mxdb on a real Synapse", () => {
  test("a put in one process is seen by watch in another and read by get in a third; watch stops cleanly on SIGINT", { timeout: 180_000 }, async () => {
    const watch = start(["watch", "--json", ...as(bob)]);
    await eventually(() => watch.err(), (e) => e.includes("watching") || watch.exitCode !== null, 30_000);
    assert.match(watch.err(), /watching/, watch.err());

    const put = await mxdb(["put", "colour", '{"name":"teal","rgb":[0,128,128]}', ...as(alice)]);
    assert.equal(put.code, 0, put.stderr);

    await eventually(() => watch.out(), (o) => o.includes('"colour"'), 30_000);
    const change = JSON.parse(watch.out().trim().split("\n").find((l) => l.includes('"colour"'))!) as Record<string, unknown>;
    assert.deepEqual(change.value, { name: "teal", rgb: [0, 128, 128] });
    assert.equal(change.sender, alice.userId);
    assert.equal(change.room, roomId);

    // The third process logs in with a password instead of a token.
    const get = await mxdb(["get", "colour", "--homeserver", baseUrl, "--user", bob.userId, "--password", bob.password, "--room", roomId]);
    assert.equal(get.code, 0, get.stderr);
    assert.deepEqual(JSON.parse(get.stdout), { name: "teal", rgb: [0, 128, 128] });

    watch.kill("SIGINT");
    const ended = await watch.result;
    assert.equal(ended.code, 0, ended.stderr);

    const missing = await mxdb(["get", "no-such-key", "--json", ...as(bob)]);
    assert.equal(missing.code, 3);
    assert.deepEqual(JSON.parse(missing.stdout), { key: "no-such-key", found: false });
  });

  test("a wrong password is one line with M_FORBIDDEN and what to do, exit status 1", { timeout: 180_000 }, async () => {
    const r = await mxdb(["get", "colour", "--homeserver", baseUrl, "--user", alice.userId, "--password", "not-the-password", "--room", roomId]);
    assert.equal(r.code, 1);
    assert.match(oneLine(r.stderr), /^mxdb: M_FORBIDDEN: .* — check the user and password, or run mxdb login again$/);
    assert.equal(r.stdout, "");
  });

  test("an unknown room is one line naming the room, exit status 1", { timeout: 180_000 }, async () => {
    const r = await mxdb(["keys", "--homeserver", baseUrl, "--access-token", alice.accessToken, "--room", "#no-such-room-here:localhost"]);
    assert.equal(r.code, 1);
    assert.match(oneLine(r.stderr), /^mxdb: unknown room "#no-such-room-here:localhost": .*does not exist.* — check --room/);
  });

  test("an invalid JSON value is refused before anything is sent, exit status 2", { timeout: 180_000 }, async () => {
    const trace = join(home, "invalid.jsonl");
    const r = await mxdb(["put", "k", "{not json", "--trace", trace, ...as(alice)]);
    assert.equal(r.code, 2);
    assert.match(oneLine(r.stderr), /^mxdb: invalid JSON value for key "k": .* — a string needs JSON quotes/);
    assert.equal(existsSync(trace), false, "no request was made, so no trace was written");
    const unknown = await mxdb(["put", "--bogus"]);
    assert.equal(unknown.code, 2);
    assert.match(oneLine(unknown.stderr), /^mxdb: Unknown option '--bogus' \(see mxdb put --help\)$/);
  });

  test("a trace written by the CLI holds no token or password, and mxdb trace prints it", { timeout: 180_000 }, async () => {
    const trace = join(home, "wire.jsonl");
    const byToken = await mxdb(["put", "traced", '"yes"', "--trace", trace, ...as(alice)]);
    assert.equal(byToken.code, 0, byToken.stderr);
    const byPassword = await mxdb(["get", "traced", "--trace", trace, "--homeserver", baseUrl, "--user", bob.userId, "--password", bob.password, "--room", roomId]);
    assert.equal(byPassword.code, 0, byPassword.stderr);
    assert.equal(byPassword.stdout.trim(), '"yes"');

    const text = readFileSync(trace, "utf8");
    assert.equal(statSync(trace).mode & 0o777, 0o600);
    assert.ok(!text.includes(alice.accessToken), "alice's access token is not in the trace");
    assert.ok(!text.includes(bob.password), "bob's password is not in the trace");
    assert.doesNotMatch(text, /syt_/, "no Synapse access token (bob's login answer) is in the trace");
    assert.match(text, /<redacted>/);

    const shown = await mxdb(["trace", trace]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /PUT http:\/\/127\.0\.0\.1:\d+\/_matrix\/client\/v3\/rooms\/.*\/state\/dev\.opsdroid\.database\//);
    assert.match(shown.stdout, /\(PUT \/_matrix\/client\/v3\/rooms\/\{roomId\}\/state\/\{eventType\}\/\{stateKey\}\)/);
    assert.match(shown.stdout, /^ {6}"traced": "yes",?$/m, "bodies are indented JSON");
    assert.match(shown.stdout, /^\s+1 {2}POST \/_matrix\/client\/v3\/login/m, "the summary counts requests by endpoint");
    assert.ok(!shown.stdout.includes(alice.accessToken));
  });

  test("--config with an opsdroid-style YAML file: connector credentials, rooms, and database options", { timeout: 180_000 }, async () => {
    const config = join(home, "opsdroid.yaml");
    writeFileSync(
      config,
      [
        "connectors:",
        "  matrix:",
        `    homeserver: ${baseUrl}`,
        `    mxid: "${bob.userId}"`,
        `    password: "${bob.password}"`,
        "    nick: mxdb-test   # opsdroid options mxdb does not use are ignored",
        "    rooms:",
        `      main: "${roomId}"`,
        "databases:",
        "  matrix:",
        "    default_room: main",
        "    single_state_key: false",
        "    should_encrypt: false",
        "",
      ].join("\n"),
    );
    const put = await mxdb(["put", "from-yaml", "42", "--config", config]);
    assert.equal(put.code, 0, put.stderr);
    // single_state_key: false -> the key is the state key, content {key: value} (opsdroid's format).
    assert.deepEqual(await alice.client.send(getStateContent, { roomId, eventType: "dev.opsdroid.database", stateKey: "from-yaml" }), { "from-yaml": 42 });
    const keys = await mxdb(["keys", "--json", "--config", config]);
    assert.equal(keys.code, 0, keys.stderr);
    assert.ok((JSON.parse(keys.stdout) as string[]).includes("from-yaml"));
  });

  test("login keeps the session in a 0600 file; whoami and later commands use it", { timeout: 180_000 }, async () => {
    const login = await mxdb(["login", "--homeserver", baseUrl, "--user", alice.userId, "--password", alice.password, "--room", roomId]);
    assert.equal(login.code, 0, login.stderr);
    const session = join(home, "session.json");
    assert.equal(statSync(session).mode & 0o777, 0o600);
    assert.equal((JSON.parse(readFileSync(session, "utf8")) as { userId: string }).userId, alice.userId);
    assert.ok(!login.stdout.includes("syt_"), "login does not print the token");

    const who = await mxdb(["whoami", "--json"]);
    assert.equal(who.code, 0, who.stderr);
    assert.equal((JSON.parse(who.stdout) as { userId: string }).userId, alice.userId);
    const get = await mxdb(["get", "colour"]);
    assert.equal(get.code, 0, get.stderr);
    assert.deepEqual(JSON.parse(get.stdout), { name: "teal", rgb: [0, 128, 128] });
  });
});
