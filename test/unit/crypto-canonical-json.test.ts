import { test } from "node:test";
import assert from "node:assert/strict";
import { createPrivateKey, createPublicKey, sign, verify } from "node:crypto";
import { canonicalJson, signingPayload } from "../../src/crypto/canonical-json.js";
import { signJson } from "../../src/crypto/account.js";
import { olmBackend } from "../../src/crypto/olm/backend.js";

// https://spec.matrix.org/v1.19/appendices/#canonical-json (Examples), parsed from the spec's text.
const SPEC_EXAMPLES: [string, string][] = [
  ["{}", "{}"],
  ['{\n    "one": 1,\n    "two": "Two"\n}', '{"one":1,"two":"Two"}'],
  ['{\n    "b": "2",\n    "a": "1"\n}', '{"a":"1","b":"2"}'],
  ['{"b":"2","a":"1"}', '{"a":"1","b":"2"}'],
  [
    '{"auth":{"success":true,"mxid":"@john.doe:example.com","profile":{"display_name":"John Doe","three_pids":[{"medium":"email","address":"john.doe@example.org"},{"medium":"msisdn","address":"123456789"}]}}}',
    '{"auth":{"mxid":"@john.doe:example.com","profile":{"display_name":"John Doe","three_pids":[{"address":"john.doe@example.org","medium":"email"},{"address":"123456789","medium":"msisdn"}]},"success":true}}',
  ],
  ['{"a": "日本語"}', '{"a":"日本語"}'],
  ['{"本": 2, "日": 1}', '{"日":1,"本":2}'],
  ['{"a": "\\u65E5"}', '{"a":"日"}'],
  ['{"a": null}', '{"a":null}'],
  ['{"a": -0, "b": 1e10}', '{"a":0,"b":10000000000}'],
];

test("canonical JSON matches every example in the spec appendix", { timeout: 30_000 }, () => {
  for (const [input, expected] of SPEC_EXAMPLES) assert.equal(canonicalJson(JSON.parse(input)), expected, input);
});

test("keys sort by code point, not UTF-16 unit; escapes follow the grammar", { timeout: 30_000 }, () => {
  // U+1F600 (surrogates D83D DE00) sorts after U+FB01 by code point, before it by UTF-16 unit.
  assert.equal(canonicalJson({ "\u{1F600}": 1, "\uFB01": 2 }), '{"\uFB01":2,"\u{1F600}":1}');
  assert.equal(canonicalJson({ s: 'q"\\\b\f\n\r\t\u0001\u001f\u007f\u2028' }), '{"s":"q\\"\\\\\\b\\f\\n\\r\\t\\u0001\\u001f\u007f\u2028"}');
  assert.equal(canonicalJson([1, true, false, null, "x"]), '[1,true,false,null,"x"]');
});

test("floats, unsafe integers and lone surrogates are refused", { timeout: 30_000 }, () => {
  assert.throws(() => canonicalJson({ a: 1.5 }), { code: "M_CANONICAL_JSON" });
  assert.throws(() => canonicalJson({ a: 2 ** 53 }), { code: "M_CANONICAL_JSON" });
  assert.equal(canonicalJson({ a: -(2 ** 53 - 1) }), '{"a":-9007199254740991}');
  assert.throws(() => canonicalJson({ a: "\uD800" }), { code: "M_CANONICAL_JSON" });
});

// https://spec.matrix.org/v1.19/appendices/#cryptographic-test-vectors: seed, and the signatures of
// {} and {"one":1,"two":"Two"} as signed by "domain" with key "ed25519:1".
const SEED = "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1";
const PKCS8_ED25519_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");
const seedKey = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, Buffer.from(SEED, "base64")]), format: "der", type: "pkcs8" });
const unpadded = (b: Buffer) => b.toString("base64").replace(/=+$/, "");

test("signing the spec's test objects with node:crypto Ed25519 gives the spec's signatures", { timeout: 30_000 }, () => {
  const sig = (obj: Record<string, unknown>) => unpadded(sign(null, Buffer.from(signingPayload(obj), "utf8"), seedKey));
  assert.equal(sig({}), "K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ");
  assert.equal(
    sig({ one: 1, two: "Two", signatures: { x: {} }, unsigned: { age_ts: 1 } }),
    "KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw",
  );
});

test("a libolm signature verifies with node:crypto, and a node:crypto signature verifies with libolm", { timeout: 30_000 }, async () => {
  const backend = await olmBackend();
  const acct = backend.newAccount();
  try {
    const ed = acct.identityKeys().ed25519;
    const obj = signJson(acct, { user_id: "@u:x", device_id: "D", keys: { "ed25519:D": ed }, "日本": [1, 2] }, "@u:x", "D");
    const olmSig = ((obj as Record<string, unknown>).signatures as Record<string, Record<string, string>>)["@u:x"]!["ed25519:D"]!;
    const spki = Buffer.concat([Buffer.from("302a300506032b6570032100", "hex"), Buffer.from(ed, "base64")]);
    const pub = createPublicKey({ key: spki, format: "der", type: "spki" });
    assert.ok(verify(null, Buffer.from(signingPayload(obj), "utf8"), pub, Buffer.from(olmSig, "base64")));
    assert.ok(!verify(null, Buffer.from(signingPayload({ ...obj, device_id: "E" }), "utf8"), pub, Buffer.from(olmSig, "base64")));

    const seedPub = unpadded(createPublicKey(seedKey).export({ format: "der", type: "spki" }).subarray(12));
    const message = signingPayload({ b: "2", a: "日" });
    const nodeSig = unpadded(sign(null, Buffer.from(message, "utf8"), seedKey));
    assert.ok(backend.verifyEd25519(seedPub, message, nodeSig));
    assert.ok(!backend.verifyEd25519(seedPub, message + " ", nodeSig));
  } finally {
    acct.free();
  }
});
