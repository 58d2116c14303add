import { test } from "node:test";
import assert from "node:assert/strict";
import { fromBase64, randomBytes, toBase64, toHex, utf8Length } from "../../src/crypto/bytes.js";

// Buffer is the reference here only: the core itself never uses it.
test("base64 and hex match Buffer's for every length and byte", { timeout: 30_000 }, () => {
  for (let len = 0; len < 70; len++) {
    const bytes = randomBytes(len);
    const b = Buffer.from(bytes);
    assert.equal(toBase64(bytes), b.toString("base64"));
    assert.equal(toBase64(bytes, { pad: false }), b.toString("base64").replace(/=+$/, ""));
    assert.equal(toBase64(bytes, { url: true }), b.toString("base64url"));
    assert.equal(toHex(bytes), b.toString("hex"));
    assert.deepEqual(fromBase64(b.toString("base64")), new Uint8Array(b));
    assert.deepEqual(fromBase64(b.toString("base64url")), new Uint8Array(b));
  }
  assert.throws(() => fromBase64("ab$d"), SyntaxError);
});

test("utf8Length equals Buffer.byteLength, surrogate pairs and lone surrogates included", { timeout: 30_000 }, () => {
  for (const s of ["", "a", "é", "✓", "😀", "a😀b", "\ud800", "x\udc00y", "\ud83d", "中文 text", "\u0000\u007f\u0080\u07ff\u0800\uffff"]) {
    assert.equal(utf8Length(s), Buffer.byteLength(s, "utf8"), JSON.stringify(s));
  }
});

test("randomBytes fills past getRandomValues' 65,536-byte limit", { timeout: 30_000 }, () => {
  const big = randomBytes(200_000);
  assert.equal(big.length, 200_000);
  assert.notDeepEqual(big.subarray(150_000, 150_064), new Uint8Array(64));
});
