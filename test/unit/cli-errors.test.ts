import { test } from "node:test";
import assert from "node:assert/strict";
import { describeError, exitCodeOf, UsageError, EXIT } from "../../src/cli/errors.js";
import { parseValueArgument } from "../../src/cli/memory-commands.js";
import { InvalidValueError, UnknownRoomError } from "../../src/db/errors.js";
import { MatrixError, TransportError } from "../../src/http/errors.js";

const login403 = new MatrixError(403, "M_FORBIDDEN", "Invalid username or password", {}, undefined, "POST", "http://127.0.0.1:8008/_matrix/client/v3/login");

test("a Matrix error is one line: errcode, the server's message, what to do", { timeout: 30_000 }, () => {
  assert.equal(describeError(login403), "M_FORBIDDEN: Invalid username or password — check the user and password, or run mxdb login again");
  const token = new MatrixError(401, "M_UNKNOWN_TOKEN", "Invalid access token passed.", {}, undefined, "GET", "http://h/_matrix/client/v3/sync?access_token=secret");
  assert.equal(describeError(token), "M_UNKNOWN_TOKEN: Invalid access token passed. — the access token is not valid (anymore): run mxdb login again");
  assert.equal(exitCodeOf(login403), EXIT.runtime);
});

test("other failures: one line, no secrets, an exit status by kind", { timeout: 30_000 }, () => {
  const refused = new TransportError(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" }), "GET", "http://127.0.0.1:1/x?access_token=secret");
  const line = describeError(refused);
  assert.doesNotMatch(line, /secret|\n/);
  assert.match(line, /^cannot reach the homeserver .*ECONNREFUSED.* — is it running\?/);
  assert.match(describeError(new UnknownRoomError("#x:y", "the alias #x:y does not exist")), /^unknown room "#x:y": .* — check --room/);
  assert.equal(describeError(new UsageError("expected KEY", "get")), "expected KEY (see mxdb get --help)");
  assert.equal(exitCodeOf(new UsageError("x")), EXIT.usage);
  assert.equal(exitCodeOf(new InvalidValueError("k", "$", "is a float")), EXIT.usage);
  assert.equal(describeError(new Error("first line\nsecond line")), "first line");
});

test("put's JSON argument: parsed, or a usage error that says how to quote", { timeout: 30_000 }, () => {
  assert.deepEqual(parseValueArgument("k", '{"a":[1,"x"]}'), { a: [1, "x"] });
  assert.equal(parseValueArgument("k", '"hello"'), "hello");
  assert.throws(() => parseValueArgument("k", "hello"), (e: unknown) => e instanceof UsageError && /invalid JSON value for key "k": .* a string needs JSON quotes/.test(e.message) && e.command === "put");
  assert.throws(() => parseValueArgument("k", '{"encrypted_val":"$x"}'), (e: unknown) => e instanceof UsageError && /encrypted reference/.test(e.message));
});
