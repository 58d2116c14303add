import { test } from "node:test";
import assert from "node:assert/strict";
import { FakeKeyServer, MemoryKV } from "../helpers/fake-key-server.js";
import { openClient } from "../helpers/crypto-clients.js";
import { olmBackend } from "../../src/crypto/olm/backend.js";
import { hasValidSignature } from "../../src/crypto/devices.js";
import type { OutgoingRequest } from "../../src/crypto/requests.js";
import { UnknownRequestError } from "../../src/crypto/errors.js";

const A = "@alice:example.org";
type Upload = Extract<OutgoingRequest, { kind: "keys_upload" }>;
const upload = (reqs: OutgoingRequest[]) => reqs.find((r): r is Upload => r.kind === "keys_upload");

test("first upload: signed device keys, half of max one-time keys, a signed fallback key", { timeout: 30_000 }, async () => {
  const a = await openClient(A, "DEV1");
  const backend = await olmBackend();
  const req = upload(a.machine.outgoingRequests())!;
  const ids = a.machine.identityKeys();
  const dk = req.body.device_keys as Record<string, unknown>;
  assert.deepEqual(dk.keys, { "curve25519:DEV1": ids.curve25519, "ed25519:DEV1": ids.ed25519 });
  assert.deepEqual(dk.algorithms, ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"]);
  assert.ok(hasValidSignature(backend, dk, A, "ed25519:DEV1", ids.ed25519));
  const otks = req.body.one_time_keys as Record<string, Record<string, unknown>>;
  assert.equal(Object.keys(otks).length, 50);
  for (const [id, obj] of Object.entries(otks)) {
    assert.match(id, /^signed_curve25519:/);
    assert.ok(hasValidSignature(backend, obj, A, "ed25519:DEV1", ids.ed25519));
  }
  const fb = Object.values(req.body.fallback_keys as Record<string, Record<string, unknown>>);
  assert.equal(fb.length, 1);
  assert.equal(fb[0]!.fallback, true);
  assert.ok(hasValidSignature(backend, fb[0]!, A, "ed25519:DEV1", ids.ed25519), "fallback flag is inside the signed object");
  // Same request until marked sent.
  assert.equal(upload(a.machine.outgoingRequests())!.id, req.id);
  a.machine.close();
});

test("keys are persisted before upload: a crash before markRequestAsSent re-uploads the same keys, accepted", { timeout: 30_000 }, async () => {
  const server = new FakeKeyServer();
  const kv = new MemoryKV();
  const a = await openClient(A, "DEV1", { kv });
  const first = upload(a.machine.outgoingRequests())!;
  server.handle(A, "DEV1", first); // the server got it, but we "crash" before marking it sent
  a.machine.close();
  const again = await openClient(A, "DEV1", { kv });
  const second = upload(again.machine.outgoingRequests())!;
  assert.deepEqual(second.body.one_time_keys, first.body.one_time_keys);
  await again.machine.markRequestAsSent(second.id, server.handle(A, "DEV1", second));
  assert.equal(server.otkCount(A, "DEV1"), 50);
  assert.equal(upload(again.machine.outgoingRequests()), undefined, "nothing left to upload");
  await assert.rejects(again.machine.markRequestAsSent(second.id, {}), UnknownRequestError);
  again.machine.close();
});

test("one-time keys are topped up to half the maximum from sync counts; a used fallback key is replaced", { timeout: 30_000 }, async () => {
  const server = new FakeKeyServer();
  const a = await openClient(A, "DEV1");
  const first = upload(a.machine.outgoingRequests())!;
  await a.machine.markRequestAsSent(first.id, server.handle(A, "DEV1", first));
  const firstFallback = Object.keys(first.body.fallback_keys as object)[0];

  await a.machine.receiveSyncChanges({ oneTimeKeyCounts: { signed_curve25519: 50 }, unusedFallbackKeyTypes: ["signed_curve25519"] });
  assert.equal(upload(a.machine.outgoingRequests()), undefined, "full: nothing to upload");

  await a.machine.receiveSyncChanges({ oneTimeKeyCounts: { signed_curve25519: 20 }, unusedFallbackKeyTypes: [] });
  const topUp = upload(a.machine.outgoingRequests())!;
  assert.equal(topUp.body.device_keys, undefined);
  assert.equal(Object.keys(topUp.body.one_time_keys as object).length, 30);
  const newFallback = Object.keys(topUp.body.fallback_keys as object);
  assert.equal(newFallback.length, 1);
  assert.notEqual(newFallback[0], firstFallback);
  // While that upload is in flight, a further low count generates nothing new.
  await a.machine.receiveSyncChanges({ oneTimeKeyCounts: { signed_curve25519: 0 }, unusedFallbackKeyTypes: [] });
  assert.deepEqual(upload(a.machine.outgoingRequests())!.body, topUp.body);
  await a.machine.markRequestAsSent(topUp.id, server.handle(A, "DEV1", topUp));
  assert.equal(server.otkCount(A, "DEV1"), 80);
  a.machine.close();
});
