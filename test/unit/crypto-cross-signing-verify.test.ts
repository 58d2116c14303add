/**
 * Verifying cross-signing keys from keys/query (src/crypto/cross-signing-verify.ts) and what the device
 * book makes of them (devices.ts step 4): each refusal compared by its error class and values.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { olmBackend } from "../../src/crypto/olm/backend.js";
import { deviceKeys } from "../../src/crypto/account.js";
import { signingPayload } from "../../src/crypto/canonical-json.js";
import { fromBase64 } from "../../src/crypto/bytes.js";
import { crossSigningPublicKey, isCrossSigned, verifyIdentity } from "../../src/crypto/cross-signing-verify.js";
import { CrossSigningKeyChangedError, CrossSigningSignatureError, MalformedCrossSigningKeyError, type CryptoError } from "../../src/crypto/errors.js";
import type { CryptoBackend } from "../../src/crypto/backend.js";
import { openClient } from "../helpers/crypto-clients.js";

const A = "@bot:example.org";
const B = "@bob:example.org";
type Obj = Record<string, unknown>;

function keyPair(backend: CryptoBackend, fill: number) {
  const k = backend.signingKeyFromSeed(new Uint8Array(32).fill(fill));
  return { pub: k.publicKey, sign: (obj: Obj, userId: string): Obj => {
    const sig = k.sign(signingPayload(obj));
    const prior = (obj.signatures ?? {}) as Record<string, Record<string, string>>;
    return { ...obj, signatures: { ...prior, [userId]: { ...(prior[userId] ?? {}), [`ed25519:${k.publicKey}`]: sig } } };
  } };
}

const keyObj = (userId: string, usage: string, pub: string): Obj => ({ user_id: userId, usage: [usage], keys: { [`ed25519:${pub}`]: pub } });

async function identity(userId: string, seeds = { master: 1, ssk: 2 }) {
  const backend = await olmBackend();
  const master = keyPair(backend, seeds.master);
  const ssk = keyPair(backend, seeds.ssk);
  const masterRaw = keyObj(userId, "master", master.pub);
  const sskRaw = master.sign(keyObj(userId, "self_signing", ssk.pub), userId);
  const account = backend.newAccount();
  const device = deviceKeys(account, account.identityKeys(), userId, "DEV");
  account.free();
  return { backend, master, ssk, masterRaw, sskRaw, device, signedDevice: ssk.sign(device, userId) };
}

const summary = (problems: CryptoError[]) => problems.map((e) => [e.name, e.code]);

test("a master key pinned on first sight, a self-signing key it signed, a device that key signed: cross-signed", { timeout: 30_000 }, async () => {
  const id = await identity(B);
  const r = verifyIdentity(id.backend, B, id.masterRaw, id.sskRaw, { pinOnFirstSight: true });
  assert.deepEqual(r, { identity: { master: id.master.pub, selfSigning: id.ssk.pub }, pin: id.master.pub, problems: [] });
  assert.equal(isCrossSigned(id.backend, B, r.identity, id.signedDevice), true);
  assert.equal(isCrossSigned(id.backend, B, r.identity, id.device), false);
});

test("bad signature, wrong key, missing chain: refused with the check that failed", { timeout: 30_000 }, async () => {
  const id = await identity(B);
  const other = keyPair(id.backend, 9);
  // Self-signing key signed by a key that is not the master key.
  const wrongSigner = other.sign(keyObj(B, "self_signing", id.ssk.pub), B);
  const r1 = verifyIdentity(id.backend, B, id.masterRaw, wrongSigner, { pinOnFirstSight: true });
  assert.deepEqual([r1.identity, summary(r1.problems)], [{ master: id.master.pub }, [["CrossSigningSignatureError", "M_BAD_CROSS_SIGNING_SIGNATURE"]]]);
  assert.ok(r1.problems[0] instanceof CrossSigningSignatureError);
  assert.equal(isCrossSigned(id.backend, B, r1.identity, id.signedDevice), false);
  // A changed byte under the master's signature.
  const tampered = { ...id.sskRaw, usage: ["self_signing", "x"] };
  assert.deepEqual(summary(verifyIdentity(id.backend, B, id.masterRaw, tampered, { pinOnFirstSight: true }).problems), [["CrossSigningSignatureError", "M_BAD_CROSS_SIGNING_SIGNATURE"]]);
  // Missing chain: no self-signing key -> the identity has no way to sign devices.
  const r2 = verifyIdentity(id.backend, B, id.masterRaw, undefined, { pinOnFirstSight: true });
  assert.deepEqual(r2, { identity: { master: id.master.pub }, pin: id.master.pub, problems: [] });
  assert.equal(isCrossSigned(id.backend, B, r2.identity, id.signedDevice), false);
  // A device signed by another key than the self-signing key.
  const byOther = other.sign(id.device, B);
  const good = verifyIdentity(id.backend, B, id.masterRaw, id.sskRaw, { pinOnFirstSight: true }).identity;
  assert.equal(isCrossSigned(id.backend, B, good, byOther), false);
  // Wrong master: it differs from the pin -> nothing is trusted through it, the pin stays.
  const r3 = verifyIdentity(id.backend, B, id.masterRaw, id.sskRaw, { pinned: other.pub, pinOnFirstSight: true });
  assert.deepEqual([r3.identity, r3.pin, summary(r3.problems)], [undefined, other.pub, [["CrossSigningKeyChangedError", "M_CROSS_SIGNING_KEY_CHANGED"]]]);
  const changed = r3.problems[0] as CrossSigningKeyChangedError;
  assert.deepEqual([changed.userId, changed.pinned, changed.found], [B, other.pub, id.master.pub]);
});

test("malformed cross-signing keys: another user, another usage, two keys, a key id that does not name its key", { timeout: 30_000 }, async () => {
  const id = await identity(B);
  const pub = id.master.pub;
  const cases: [unknown, string][] = [
    [keyObj(A, "master", pub), `master key of ${B} refused: user_id is ${A}`],
    [keyObj(B, "self_signing", pub), `master key of ${B} refused: usage is ["self_signing"]`],
    [{ user_id: B, usage: ["master"], keys: { [`ed25519:${pub}`]: pub, "ed25519:x": "x" } }, `master key of ${B} refused: 2 keys, not one`],
    [{ user_id: B, usage: ["master"], keys: { "ed25519:other": pub } }, `master key of ${B} refused: key id ed25519:other does not name its ed25519 key`],
    ["nope", `master key of ${B} refused: not an object`],
  ];
  for (const [raw, message] of cases) {
    const r = crossSigningPublicKey(raw, B, "master");
    assert.ok(r instanceof MalformedCrossSigningKeyError);
    assert.equal(r.message, message);
  }
  assert.equal(crossSigningPublicKey(id.masterRaw, B, "master"), pub);
});

test("our own master key is trusted only if we hold it or our device signed it, never on first sight", { timeout: 30_000 }, async () => {
  const id = await identity(A);
  const unknown = verifyIdentity(id.backend, A, id.masterRaw, id.sskRaw, { pinOnFirstSight: false });
  assert.deepEqual(unknown, { problems: [] });
  const account = id.backend.newAccount();
  const ed = account.identityKeys().ed25519;
  const signedByUs = { ...id.masterRaw, signatures: { [A]: { "ed25519:ME": account.sign(signingPayload(id.masterRaw)) } } };
  account.free();
  const trusted = verifyIdentity(id.backend, A, signedByUs, id.sskRaw, { pinOnFirstSight: false, ownDevice: { deviceId: "ME", ed25519: ed } });
  assert.deepEqual(trusted, { identity: { master: id.master.pub, selfSigning: id.ssk.pub }, pin: id.master.pub, problems: [] });
});

/** Answer the machine's keys/query with `body`. */
async function answerQuery(machine: Awaited<ReturnType<typeof openClient>>["machine"], body: Obj) {
  const q = machine.outgoingRequests().find((r) => r.kind === "keys_query");
  assert.ok(q, "a keys/query is queued");
  await machine.markRequestAsSent(q.id, body);
}

test("the device book: own devices cross-signed by the identity we bootstrapped; another user's master pinned, a changed one refused", { timeout: 30_000 }, async () => {
  const a = await openClient(A, "BOT1");
  const { deviceSigningUpload, publicKeys } = await a.machine.crossSigning.bootstrap();
  const backend = await olmBackend();
  const secrets = (await a.machine.crossSigning.secrets())!;
  const ssk = backend.signingKeyFromSeed(fromBase64(secrets.self_signing));
  const acc = backend.newAccount();
  const other = deviceKeys(acc, acc.identityKeys(), A, "PHONE");
  const signedOther = { ...other, signatures: { [A]: { ...(other.signatures as Record<string, Record<string, string>>)[A], [`ed25519:${ssk.publicKey}`]: ssk.sign(signingPayload(other)) } } };
  ssk.free();
  const acc2 = backend.newAccount();
  const rogue = deviceKeys(acc2, acc2.identityKeys(), A, "ROGUE");
  const bob = await identity(B);
  const own = { master_keys: { [A]: deviceSigningUpload.master_key, [B]: bob.masterRaw }, self_signing_keys: { [A]: deviceSigningUpload.self_signing_key, [B]: bob.sskRaw } };
  a.machine.updateTrackedUsers([B]);
  await answerQuery(a.machine, { device_keys: { [A]: { PHONE: signedOther, ROGUE: rogue }, [B]: { DEV: bob.signedDevice } }, ...own });
  const flags = (u: string) => a.machine.devicesOf(u).map((d) => [d.deviceId, d.crossSigned]).sort();
  assert.deepEqual(flags(A), [["PHONE", true], ["ROGUE", false]]);
  assert.deepEqual(flags(B), [["DEV", true]]);
  assert.deepEqual(a.rejected, []);
  assert.deepEqual((deviceSigningUpload.master_key as { keys: Record<string, string> }).keys, { [`ed25519:${publicKeys.master}`]: publicKeys.master });

  // Bob's master key replaced (a homeserver could): refused, his devices no longer cross-signed, the pin stays.
  const mallory = await identity(B, { master: 7, ssk: 8 });
  const devSignedByMallory = mallory.ssk.sign(bob.device, B);
  const a2 = await a.reopen();
  a2.machine.updateTrackedUsers([B]);
  await a2.machine.receiveSyncChanges({ changedDevices: { changed: [A, B] } });
  await answerQuery(a2.machine, { device_keys: { [A]: { PHONE: signedOther }, [B]: { DEV: devSignedByMallory } }, master_keys: { [A]: deviceSigningUpload.master_key, [B]: mallory.masterRaw }, self_signing_keys: { [A]: deviceSigningUpload.self_signing_key, [B]: mallory.sskRaw } });
  assert.deepEqual(a2.rejected.map((e) => [e.name, (e as CrossSigningKeyChangedError).pinned, (e as CrossSigningKeyChangedError).found]), [["CrossSigningKeyChangedError", bob.master.pub, mallory.master.pub]]);
  assert.deepEqual(a2.machine.devicesOf(B).map((d) => [d.deviceId, d.crossSigned]), [["DEV", false]]);
  assert.deepEqual(a2.machine.devicesOf(A).map((d) => [d.deviceId, d.crossSigned]), [["PHONE", true]]);
  acc.free();
  acc2.free();
  a2.machine.close();
});
