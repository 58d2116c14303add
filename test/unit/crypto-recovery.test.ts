/**
 * Recovery key encoding and secret storage (m.secret_storage.v1.aes-hmac-sha2): a published vector,
 * round trips, every refusal, and matrix-js-sdk's own functions (a dev dependency) as the independent
 * implementation in both directions.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import bs58 from "bs58";
import { decodeRecoveryKey as jsDecodeRecoveryKey, encodeRecoveryKey as jsEncodeRecoveryKey } from "matrix-js-sdk/lib/crypto-api/recovery-key.js";
import { deriveRecoveryKeyFromPassphrase } from "matrix-js-sdk/lib/crypto-api/key-passphrase.js";
import jsEncrypt from "matrix-js-sdk/lib/utils/encryptAESSecretStorageItem.js";
import jsDecrypt from "matrix-js-sdk/lib/utils/decryptAESSecretStorageItem.js";
import { calculateKeyCheck } from "matrix-js-sdk/lib/secret-storage.js";
import { base58Decode, base58Encode, decodeRecoveryKey, encodeRecoveryKey } from "../../src/crypto/backup/recovery-key.js";
import { checkKey, decryptSecret, describeKey, encryptSecret, keyFromPassphrase, AES_HMAC_SHA2 } from "../../src/crypto/backup/secret-storage.js";
import { RecoveryKeyFormatError, RecoverySetupError, SecretDecryptionError, WrongRecoveryKeyError } from "../../src/crypto/backup/errors.js";
import { fromBase64 } from "../../src/crypto/bytes.js";

// Published by trixnity's RecoveryKeyUtilsTest (the RFC 7748 curve25519 test key and its Element encoding).
const VECTOR_KEY = Uint8Array.from([
  0x77, 0x07, 0x6d, 0x0a, 0x73, 0x18, 0xa5, 0x7d, 0x3c, 0x16, 0xc1, 0x72, 0x51, 0xb2, 0x66, 0x45,
  0xdf, 0x4c, 0x2f, 0x87, 0xeb, 0xc0, 0x99, 0x2a, 0xb1, 0x77, 0xfb, 0xa5, 0x1d, 0xb9, 0x2c, 0x2a,
]);
const VECTOR_TEXT = "EsTc LW2K PGiF wKEA 3As5 g5c4 BXwk qeeJ ZJV8 Q9fu gUMN UE4d";

const key = (seed: number) => new Uint8Array(32).map((_, i) => (i * 31 + seed) & 0xff);

test("recovery key: the published vector encodes and decodes, whitespace anywhere is ignored", { timeout: 10_000 }, () => {
  assert.equal(encodeRecoveryKey(VECTOR_KEY), VECTOR_TEXT);
  assert.deepEqual(decodeRecoveryKey(VECTOR_TEXT), VECTOR_KEY);
  assert.deepEqual(decodeRecoveryKey(VECTOR_TEXT.replace(/ /g, "")), VECTOR_KEY);
  assert.deepEqual(decodeRecoveryKey(`  ${VECTOR_TEXT.replace(/ /g, "\n ")}\t\n`), VECTOR_KEY);
});

test("recovery key: agrees with matrix-js-sdk and bs58 on 200 keys, both directions", { timeout: 10_000 }, () => {
  for (let seed = 0; seed < 200; seed++) {
    const k = key(seed);
    if (seed % 7 === 0) k[0] = 0; // leading zero bytes of the key are not leading zeros of the encoding (prefix first)
    const text = encodeRecoveryKey(k);
    assert.equal(text, jsEncodeRecoveryKey(k));
    assert.deepEqual(decodeRecoveryKey(text), k);
    assert.deepEqual(new Uint8Array(jsDecodeRecoveryKey(text)), k);
    assert.match(text, /^(\S{4} ){11}\S{4}$/);
  }
  for (const bytes of [new Uint8Array([0, 0, 1, 2]), new Uint8Array([255, 0, 9]), new Uint8Array(0), key(5)]) {
    assert.equal(base58Encode(bytes), bs58.encode(bytes));
    assert.deepEqual(base58Decode(bs58.encode(bytes)), bytes);
  }
});

test("recovery key: wrong prefix, parity, length or characters -> RecoveryKeyFormatError naming the problem", { timeout: 10_000 }, () => {
  const problem = (text: string) => {
    try {
      decodeRecoveryKey(text);
    } catch (e) {
      assert.ok(e instanceof RecoveryKeyFormatError);
      return e.problem;
    }
    return "accepted";
  };
  assert.equal(problem("FsTc LW2K PGiF wKEA 3As5 g5c4 BXwk qeeJ ZJV8 Q9fu gUMN UE4d"), "prefix");
  assert.equal(problem("EqTc LW2K PGiF wKEA 3As5 g5c4 BXwk qeeJ ZJV8 Q9fu gUMN UE4d"), "prefix");
  assert.equal(problem("EsTc LW2K PGiF wKEA 3As5 g5c4 BXwk qeeJ ZJV8 Q9fu gUMN UE4e"), "parity");
  assert.equal(problem("abc"), "length");
  assert.equal(problem(`${VECTOR_TEXT}1`), "length");
  assert.equal(problem(VECTOR_TEXT.replace("E", "0")), "characters"); // 0, O, I, l are not base58
  assert.equal(problem(VECTOR_TEXT.replace("s", "l")), "characters");
  assert.equal(problem(""), "length");
});

test("secret storage: round trip, IV bit 63 clear, and matrix-js-sdk decrypts ours and we decrypt its", { timeout: 10_000 }, async () => {
  const k = key(1);
  const secret = "c2VjcmV0IGJhY2t1cCBrZXk";
  for (let i = 0; i < 20; i++) {
    const enc = await encryptSecret(k, "m.megolm_backup.v1", secret);
    assert.equal(fromBase64(enc.iv)[8]! & 0x80, 0);
    assert.equal(await decryptSecret(k, "m.megolm_backup.v1", enc), secret);
    assert.equal(await jsDecrypt(enc, k as Uint8Array<ArrayBuffer>, "m.megolm_backup.v1"), secret);
  }
  const theirs = await jsEncrypt("a secret ✓ with UTF-8", k as Uint8Array<ArrayBuffer>, "m.cross_signing.master");
  assert.equal(await decryptSecret(k, "m.cross_signing.master", theirs), "a secret ✓ with UTF-8");
});

test("secret storage: wrong key, wrong name or a changed ciphertext -> SecretDecryptionError", { timeout: 10_000 }, async () => {
  const enc = await encryptSecret(key(1), "m.megolm_backup.v1", "s");
  await assert.rejects(decryptSecret(key(2), "m.megolm_backup.v1", enc), SecretDecryptionError);
  await assert.rejects(decryptSecret(key(1), "m.cross_signing.master", enc), SecretDecryptionError);
  const ct = fromBase64(enc.ciphertext);
  ct[0]! ^= 1;
  await assert.rejects(decryptSecret(key(1), "m.megolm_backup.v1", { ...enc, ciphertext: Buffer.from(ct).toString("base64") }), SecretDecryptionError);
  await assert.rejects(decryptSecret(key(1), "m.megolm_backup.v1", { ...enc, mac: "not base64!" }), SecretDecryptionError);
});

test("key check: ours equals matrix-js-sdk's for the same IV; the right key passes, another is WrongRecoveryKeyError", { timeout: 10_000 }, async () => {
  const k = key(3);
  const description = await describeKey(k);
  assert.equal(description.algorithm, AES_HMAC_SHA2);
  const theirs = await calculateKeyCheck(k as Uint8Array<ArrayBuffer>, description.iv);
  assert.deepEqual(fromBase64(theirs.mac), fromBase64(description.mac!));
  await checkKey("KEYID", k, description);
  await checkKey("KEYID", k, { algorithm: AES_HMAC_SHA2, iv: theirs.iv, mac: theirs.mac });
  await assert.rejects(checkKey("KEYID", key(4), description), (e: unknown) => e instanceof WrongRecoveryKeyError && e.keyId === "KEYID");
  await assert.rejects(checkKey("KEYID", k, { algorithm: "m.secret_storage.v1.curve25519-aes-sha2" }), RecoverySetupError);
  await assert.rejects(checkKey("KEYID", k, { algorithm: AES_HMAC_SHA2 }), RecoverySetupError);
});

test("passphrase: m.pbkdf2 (PBKDF2-SHA-512) gives matrix-js-sdk's key", { timeout: 30_000 }, async () => {
  const info = { algorithm: "m.pbkdf2" as const, salt: "saltsaltsaltsaltsaltsaltsaltsalt", iterations: 1000, bits: 256 };
  const ours = await keyFromPassphrase("correct horse battery staple", info);
  assert.deepEqual(ours, new Uint8Array(await deriveRecoveryKeyFromPassphrase("correct horse battery staple", info.salt, info.iterations, 256)));
  assert.notDeepEqual(await keyFromPassphrase("correct horse battery stapler", info), ours);
  await assert.rejects(keyFromPassphrase("p", { ...info, iterations: 0 }), RecoverySetupError);
});
