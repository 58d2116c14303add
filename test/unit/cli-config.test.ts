import { test } from "node:test";
import assert from "node:assert/strict";
import { parse } from "yaml";
import { configFromDocument } from "../../src/cli/config.js";
import { CliError } from "../../src/cli/errors.js";

test("opsdroid's layout: the matrix connector and database sections become Memory options", { timeout: 30_000 }, () => {
  const doc = parse(`
connectors:
  matrix:
    homeserver: https://matrix.example.org
    mxid: "@bot:example.org"
    password: hunter2
    device_id: BOTDEVICE
    nick: Bot
    rooms:
      main: "#bot:example.org"
      other: "!abc:example.org"
  slack: { token: x }
databases:
  matrix:
    default_room: other
    single_state_key: false
    should_encrypt: false
`);
  assert.deepEqual(configFromDocument(doc), {
    homeserver: "https://matrix.example.org",
    userId: "@bot:example.org",
    password: "hunter2",
    deviceId: "BOTDEVICE",
    rooms: { main: "#bot:example.org", other: "!abc:example.org" },
    defaultRoom: "other",
    singleStateKey: false,
    shouldEncrypt: false,
  });
});

test("opsdroid's older list form of connectors, and a named single state key", { timeout: 30_000 }, () => {
  const doc = parse(`
connectors:
  - name: matrix
    homeserver: http://127.0.0.1:8008
    access_token: secret
databases:
  matrix: { single_state_key: memory }
`);
  assert.deepEqual(configFromDocument(doc), { homeserver: "http://127.0.0.1:8008", accessToken: "secret", singleStateKey: "memory" });
});

test("the flat mxdb form reads the same snake_case keys at the top level, JSON included", { timeout: 30_000 }, () => {
  const doc = parse(JSON.stringify({ homeserver: "http://127.0.0.1:8008", user_id: "@a:localhost", access_token: "t", rooms: { main: "#a:localhost" }, single_state_key: true, store: "/tmp/s", trace: "/tmp/t.jsonl" }));
  assert.deepEqual(configFromDocument(doc), { homeserver: "http://127.0.0.1:8008", userId: "@a:localhost", accessToken: "t", rooms: { main: "#a:localhost" }, singleStateKey: true, store: "/tmp/s", trace: "/tmp/t.jsonl" });
});

test("typos and wrong types are named", { timeout: 30_000 }, () => {
  assert.throws(() => configFromDocument({ homeserver: "http://x", defualt_room: "main" }), (e: unknown) => e instanceof CliError && /unknown key defualt_room/.test(e.message));
  assert.throws(() => configFromDocument({ databases: { matrix: { should_encrypt: "yes" } } }), /should_encrypt must be true or false/);
  assert.throws(() => configFromDocument({ connectors: { matrix: { rooms: ["#a:b"] } } }), /rooms must be a mapping/);
  assert.throws(() => configFromDocument("just a string"), /expected a mapping/);
});
