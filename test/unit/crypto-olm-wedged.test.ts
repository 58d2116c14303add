import { test } from "node:test";
import assert from "node:assert/strict";
import { FakeKeyServer, flushRequests, prepareRoom, settle } from "../helpers/fake-key-server.js";
import { openClient } from "../helpers/crypto-clients.js";
import { OlmDecryptionError } from "../../src/crypto/errors.js";

const A = "@alice:example.org";
const B = "@bob:example.org";

test("a wedged Olm session is replaced: B claims a new session and sends m.dummy, at most once an hour", { timeout: 30_000 }, async () => {
  const server = new FakeKeyServer();
  const a = await openClient(A, "ALICE1");
  let b = await openClient(B, "BOB1");
  await settle(server, [a, b]);
  b.machine.updateTrackedUsers([A]);
  await prepareRoom(server, a, "!r1:x", [A, B], [a, b]);
  // B loses its Olm session with A (e.g. restored from an old backup).
  const aCurve = a.machine.identityKeys().curve25519;
  b.kv.data.delete(`crypto/olm/${aCurve}`);
  b = await b.reopen();

  await prepareRoom(server, a, "!r2:x", [A, B], [a]); // A sends over its old session
  await b.machine.receiveSyncChanges(server.sync(B, "BOB1"));
  assert.ok(b.rejected.some((e) => e instanceof OlmDecryptionError));
  const claim = b.machine.outgoingRequests().find((r) => r.kind === "keys_claim");
  assert.ok(claim && claim.kind === "keys_claim");
  assert.deepEqual(claim.body.one_time_keys, { [A]: { ALICE1: "signed_curve25519" } });
  await flushRequests(server, b); // the claim
  await flushRequests(server, b); // the m.dummy it queued
  const dummy = server.delivered.filter((d) => d.to === `${A}|ALICE1` && d.type === "m.room.encrypted");
  assert.equal(dummy.length, 1);
  const got = await a.machine.receiveSyncChanges(server.sync(A, "ALICE1"));
  assert.deepEqual(got.map((e) => [e.type, e.sender, e.encrypted]), [["m.dummy", B, true]]);

  // A second undecryptable message within the hour does not start another session.
  b.kv.data.delete(`crypto/olm/${aCurve}`);
  b = await b.reopen();
  await prepareRoom(server, a, "!r3:x", [A, B], [a]);
  await b.machine.receiveSyncChanges(server.sync(B, "BOB1"));
  assert.equal(b.machine.outgoingRequests().filter((r) => r.kind === "keys_claim").length, 0);
  a.machine.close();
  b.machine.close();
});
