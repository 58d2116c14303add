/**
 * Key backup (m.megolm_backup.v1.curve25519-aes-sha2) in the sans-IO machine: every room key created
 * or received is marked, persisted, batched, and survives a restart; a backup read with the private
 * key restores reading on a fresh device. The session_data is also decrypted here by an independent
 * implementation (WebCrypto X25519 + @noble/hashes), which pins libolm's empty-MAC quirk.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { hkdf } from "@noble/hashes/hkdf.js";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { FakeKeyServer, prepareRoom, settle } from "../helpers/fake-key-server.js";
import { openClient } from "../helpers/crypto-clients.js";
import { olmBackend } from "../../src/crypto/olm/backend.js";
import { decryptSessionData, type RoomKeysBody } from "../../src/crypto/backup/session-data.js";
import { BackupDecryptionError, RecoverySetupError } from "../../src/crypto/backup/errors.js";
import { fromBase64, toBase64 } from "../../src/crypto/bytes.js";

const ROOM = "!backup-room:example.org";
const A = "@alice:example.org";
const B = "@bob:example.org";

const b64url = (b: Uint8Array) => toBase64(b, { url: true });

/** The spec's algorithm written out: X25519, HKDF-SHA-256 to 80 bytes, AES-256-CBC; MAC over an empty buffer. */
async function independentDecrypt(privateKey: Uint8Array, publicKey: string, m: { ciphertext: string; mac: string; ephemeral: string }) {
  const subtle = globalThis.crypto.subtle;
  const priv = await subtle.importKey("jwk", { kty: "OKP", crv: "X25519", d: b64url(privateKey), x: b64url(fromBase64(publicKey)) }, { name: "X25519" }, false, ["deriveBits"]);
  const eph = await subtle.importKey("raw", fromBase64(m.ephemeral) as Uint8Array<ArrayBuffer>, { name: "X25519" }, false, []);
  const shared = new Uint8Array(await subtle.deriveBits({ name: "X25519", public: eph }, priv, 256));
  const keys = hkdf(sha256, shared, new Uint8Array(32), new Uint8Array(0), 80);
  const ciphertext = fromBase64(m.ciphertext);
  const macOverEmpty = toBase64(hmac(sha256, keys.slice(32, 64), new Uint8Array(0)).slice(0, 8), { pad: false });
  const macOverCiphertext = toBase64(hmac(sha256, keys.slice(32, 64), ciphertext).slice(0, 8), { pad: false });
  const aes = await subtle.importKey("raw", keys.slice(0, 32), "AES-CBC", false, ["decrypt"]);
  const plain = new TextDecoder().decode(await subtle.decrypt({ name: "AES-CBC", iv: keys.slice(64, 80) }, aes, ciphertext as Uint8Array<ArrayBuffer>));
  return { plain: JSON.parse(plain) as Record<string, unknown>, macOverEmpty, macOverCiphertext };
}

async function twoInARoom() {
  const server = new FakeKeyServer();
  const a = await openClient(A, "ALICE1");
  const b = await openClient(B, "BOB1");
  await settle(server, [a, b]);
  await prepareRoom(server, a, ROOM, [A, B], [a, b]);
  const content = await a.machine.encryptRoomEvent(ROOM, "dev.opsdroid.database", { k: "v1" });
  const event = { type: "m.room.encrypted", room_id: ROOM, event_id: "$e1", sender: A, origin_server_ts: 1, content };
  return { server, a, b, event };
}

test("a created room key (sender) and a received one (reader) are pending; a batch clears them; a restart keeps the rest", { timeout: 30_000 }, async () => {
  const { a, b, event } = await twoInARoom();
  for (const c of [a, b]) {
    const { privateKey, publicKey, authData } = c.machine.backup.newBackupKey();
    assert.equal(authData.public_key, publicKey);
    assert.ok(typeof (authData.signatures as Record<string, Record<string, string>>)[c.userId]![`ed25519:${c.deviceId}`] === "string");
    await c.machine.backup.enable("1", publicKey, privateKey);
    assert.deepEqual(await c.machine.backup.status(), { version: "1", publicKey, hasPrivateKey: true, pending: 1 });
  }
  // The pending mark was written in the same flush as the session: a reopened machine still has it.
  const b2 = await b.reopen();
  const batch = (await b2.machine.backup.nextBatch())!;
  const sessionId = String(event.content.session_id);
  assert.deepEqual(Object.keys(batch.body.rooms), [ROOM]);
  assert.deepEqual(Object.keys(batch.body.rooms[ROOM]!.sessions), [sessionId]);
  const entry = batch.body.rooms[ROOM]!.sessions[sessionId]!;
  assert.equal(entry.first_message_index, 0);
  assert.equal(entry.forwarded_count, 0);
  assert.equal(entry.is_verified, false);
  await b2.machine.backup.markBackedUp(batch);
  assert.equal((await b2.machine.backup.status())!.pending, 0);
  assert.equal(await b2.machine.backup.nextBatch(), undefined);
  // A new backup version starts empty: everything is pending again.
  const next = b2.machine.backup.newBackupKey();
  await b2.machine.backup.enable("2", next.publicKey, next.privateKey);
  assert.equal((await b2.machine.backup.status())!.pending, 1);
  a.machine.close();
  b2.machine.close();
});

test("session_data decrypts independently (X25519, HKDF, AES-CBC); its MAC is libolm's HMAC of an empty buffer", { timeout: 30_000 }, async () => {
  const { a, event } = await twoInARoom();
  const { privateKey, publicKey } = a.machine.backup.newBackupKey();
  await a.machine.backup.enable("7", publicKey, privateKey);
  const batch = (await a.machine.backup.nextBatch())!;
  const sessionData = batch.body.rooms[ROOM]!.sessions[String(event.content.session_id)]!.session_data;
  const { plain, macOverEmpty, macOverCiphertext } = await independentDecrypt(privateKey, publicKey, sessionData);
  assert.equal(sessionData.mac, macOverEmpty);
  assert.notEqual(sessionData.mac, macOverCiphertext);
  assert.deepEqual(Object.keys(plain).sort(), ["algorithm", "forwarding_curve25519_key_chain", "sender_claimed_keys", "sender_key", "session_key", "shared_history"]);
  assert.equal(plain.shared_history, false);
  assert.equal(plain.algorithm, "m.megolm.v1.aes-sha2");
  assert.equal(plain.sender_key, a.machine.identityKeys().curve25519);
  assert.deepEqual(plain.sender_claimed_keys, { ed25519: a.machine.identityKeys().ed25519 });
  assert.deepEqual(plain.forwarding_curve25519_key_chain, []);
  a.machine.close();
});

test("a fresh device imports the backup with the private key and decrypts; another key or a changed entry fails typed", { timeout: 30_000 }, async () => {
  const { a, event } = await twoInARoom();
  const { privateKey, publicKey } = a.machine.backup.newBackupKey();
  await a.machine.backup.enable("1", publicKey, privateKey);
  const body: RoomKeysBody = (await a.machine.backup.nextBatch())!.body;
  const fresh = await openClient(A, "ALICE2");
  await assert.rejects(fresh.machine.decryptRoomEvent(event), { name: "UnknownSessionError" });
  // Restoring: upload to the same backup from now on, then import (imports are not marked pending).
  await fresh.machine.backup.enable("1", publicKey, privateKey);
  const wrong = fresh.machine.backup.newBackupKey().privateKey;
  const bad = await fresh.machine.backup.importBackup(wrong, body);
  assert.equal(bad.imported, 0);
  assert.ok(bad.failed[0] instanceof BackupDecryptionError);
  const result = await fresh.machine.backup.importBackup(privateKey, body);
  assert.deepEqual({ imported: result.imported, kept: result.kept, failed: result.failed }, { imported: 1, kept: 0, failed: [] });
  const decrypted = await fresh.machine.decryptRoomEvent(event);
  assert.deepEqual(decrypted.content, { k: "v1" });
  // Imported keys are already in the backup: nothing to upload.
  assert.equal((await fresh.machine.backup.status())!.pending, 0);
  // Importing again keeps what it has.
  assert.equal((await fresh.machine.backup.importBackup(privateKey, body)).kept, 1);
  await assert.rejects(fresh.machine.backup.enable("1", publicKey, wrong), RecoverySetupError);
  a.machine.close();
  fresh.machine.close();
});

test("decryptSessionData refuses a non-Megolm plaintext and a malformed entry", { timeout: 10_000 }, async () => {
  const backend = await olmBackend();
  const priv = new Uint8Array(32).fill(7);
  const pub = backend.pkPublicKey(priv);
  const msg = backend.pkEncrypt(pub, JSON.stringify({ algorithm: "m.olm.v1", session_key: "x", sender_key: "y" }));
  assert.throws(() => decryptSessionData(backend, priv, ROOM, "S", msg), BackupDecryptionError);
  assert.throws(() => decryptSessionData(backend, priv, ROOM, "S", { ciphertext: 1 }), BackupDecryptionError);
  assert.throws(() => decryptSessionData(backend, priv, ROOM, "S", { ...msg, mac: "AAAAAAAAAAA" }), BackupDecryptionError);
});
