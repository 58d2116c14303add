/** Cross-signing keys (src/crypto/cross-signing.ts): made once, kept sealed, and the signatures check out. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { openClient } from "../helpers/crypto-clients.js";
import { olmBackend } from "../../src/crypto/olm/backend.js";
import { signingPayload } from "../../src/crypto/canonical-json.js";
import { fromBase64 } from "../../src/crypto/bytes.js";

const A = "@bot:example.org";
type Obj = Record<string, unknown>;

test("crossSigning.bootstrap: master signs self-signing and user-signing, self-signing signs our device; the seeds persist sealed", { timeout: 30_000 }, async () => {
  const backend = await olmBackend();
  const a = await openClient(A, "BOT1");
  assert.equal(await a.machine.crossSigning.secrets(), undefined);
  const { deviceSigningUpload, signaturesUpload } = await a.machine.crossSigning.bootstrap();
  const master = deviceSigningUpload.master_key as Obj;
  const [masterId, masterPub] = Object.entries(master.keys as Record<string, string>)[0]!;
  assert.equal(masterId, `ed25519:${masterPub}`);
  assert.deepEqual(master.usage, ["master"]);
  assert.equal(master.user_id, A);
  const check = (obj: Obj, signerPub: string) => {
    const sig = (obj.signatures as Record<string, Record<string, string>>)[A]![`ed25519:${signerPub}`]!;
    assert.ok(backend.verifyEd25519(signerPub, signingPayload(obj), sig));
  };
  const selfSigning = deviceSigningUpload.self_signing_key as Obj;
  const userSigning = deviceSigningUpload.user_signing_key as Obj;
  assert.deepEqual(selfSigning.usage, ["self_signing"]);
  assert.deepEqual(userSigning.usage, ["user_signing"]);
  check(selfSigning, masterPub);
  check(userSigning, masterPub);
  const sskPub = Object.values(selfSigning.keys as Record<string, string>)[0]!;
  const device = (signaturesUpload as Record<string, Record<string, Obj>>)[A]!.BOT1!;
  check(device, sskPub);
  // The device's own self-signature is still there.
  assert.ok((device.signatures as Record<string, Record<string, string>>)[A]![`ed25519:BOT1`]);

  // Same keys after a restart (nothing new to upload), seeds 32 bytes, never in the store in clear.
  const secrets = await a.machine.crossSigning.secrets();
  assert.ok(secrets);
  const a2 = await a.reopen();
  assert.deepEqual(await a2.machine.crossSigning.secrets(), secrets);
  assert.deepEqual((await a2.machine.crossSigning.bootstrap()).deviceSigningUpload, deviceSigningUpload);
  for (const seed of Object.values(secrets)) assert.equal(fromBase64(seed).length, 32);
  const keys = await a2.kv.keys();
  assert.ok(keys.includes("crypto/cross-signing/keys"));
  const raw = JSON.stringify(await Promise.all(keys.map((k) => a2.kv.get(k))));
  for (const seed of Object.values(secrets)) assert.ok(!raw.includes(seed), "a seed is in the store in clear");
  a2.machine.close();
});
