import { test } from "node:test";
import assert from "node:assert/strict";
import { createCipheriv, scryptSync } from "node:crypto";
import { FakeKeyServer, MemoryKV, prepareRoom, settle } from "../helpers/fake-key-server.js";
import { openClient, STORE_KEY } from "../helpers/crypto-clients.js";
import { deriveStoreKey, openValue, sealValue } from "../../src/crypto/store.js";
import { olmBackend } from "../../src/crypto/olm/backend.js";
import { CryptoMachine } from "../../src/crypto/machine.js";
import { StoreDecryptionError } from "../../src/crypto/errors.js";

const ROOM = "!secret-room:example.org";
const A = "@alice:example.org";
const B = "@bob:example.org";
const MARKER = "marker-value-5b1e9c";

test("the store holds no key material or identifiers in plaintext; olm pickles are encrypted too", { timeout: 30_000 }, async () => {
  const server = new FakeKeyServer();
  const a = await openClient(A, "ALICE1");
  const b = await openClient(B, "BOB1");
  await settle(server, [a, b]);
  await prepareRoom(server, a, ROOM, [A, B], [a, b]);
  const content = await a.machine.encryptRoomEvent(ROOM, "dev.opsdroid.database", { k: MARKER });
  await b.machine.decryptRoomEvent({ type: "m.room.encrypted", room_id: ROOM, event_id: "$e", sender: A, origin_server_ts: 1, content });

  const backend = await olmBackend();
  const rec = JSON.parse(await openValue(STORE_KEY, `crypto/megolm-out/${ROOM}`, a.kv.data.get(`crypto/megolm-out/${ROOM}`)!)) as { pickle: string };
  const og = backend.unpickleOutboundGroupSession(STORE_KEY, rec.pickle);
  const sessionKey = og.sessionKey();
  og.free();
  const forbidden = [
    MARKER,
    sessionKey,
    sessionKey.slice(20, 60),
    String(content.session_id),
    a.machine.identityKeys().curve25519,
    a.machine.identityKeys().ed25519,
    b.machine.identityKeys().ed25519,
    "signed_curve25519",
  ];
  for (const kv of [a.kv, b.kv]) {
    assert.ok(kv.data.size > 3);
    for (const [name, value] of kv.data) {
      const parsed = JSON.parse(value) as Record<string, unknown>;
      assert.deepEqual(Object.keys(parsed).sort(), ["alg", "ct", "iv", "v"], name);
      assert.equal(parsed.v, 1);
      for (const f of forbidden) assert.ok(!value.includes(f), `${name} leaks ${f.slice(0, 12)}`);
      // Decrypted, the record still holds no session key: Olm objects are pickles encrypted with storeKey.
      const plain = await openValue(STORE_KEY, name, value);
      assert.ok(!plain.includes(sessionKey), `${name} holds the session key in its plaintext record`);
    }
  }
  const account = JSON.parse(await openValue(STORE_KEY, "crypto/account", a.kv.data.get("crypto/account")!)) as { pickle: string };
  assert.throws(() => backend.unpickleAccount(new Uint8Array(32), account.pickle), { kind: "BadPickleKey" });
  // libolm zeroes pickle keys it is given; the caller's storeKey must come out untouched.
  assert.deepEqual(STORE_KEY, new Uint8Array(32).map((_, i) => i + 1));
  a.machine.close();
  b.machine.close();
});

test("a wrong storeKey, or a value moved under another name, is refused with StoreDecryptionError", { timeout: 30_000 }, async () => {
  const kv = new MemoryKV();
  const m = await CryptoMachine.open({ userId: A, deviceId: "D", store: kv, storeKey: STORE_KEY });
  m.close();
  await assert.rejects(CryptoMachine.open({ userId: A, deviceId: "D", store: kv, storeKey: new Uint8Array(32).fill(9) }), StoreDecryptionError);
  kv.data.set("crypto/tracked", kv.data.get("crypto/account")!);
  const m2 = await CryptoMachine.open({ userId: A, deviceId: "D", store: kv, storeKey: STORE_KEY }).catch((e: unknown) => e);
  assert.ok(m2 instanceof StoreDecryptionError);
});

test("each write uses a fresh nonce; tampering is detected", { timeout: 30_000 }, async () => {
  let n = 0;
  const random = (len: number) => new Uint8Array(len).fill(++n);
  const s1 = await sealValue(STORE_KEY, "x", "same", random);
  const s2 = await sealValue(STORE_KEY, "x", "same", random);
  assert.notEqual(JSON.parse(s1).iv, JSON.parse(s2).iv);
  assert.equal(await openValue(STORE_KEY, "x", s1), "same");
  const rec = JSON.parse(s1) as { ct: string };
  const ct = Buffer.from(rec.ct, "base64");
  ct[0] = ct[0]! ^ 1;
  await assert.rejects(openValue(STORE_KEY, "x", JSON.stringify({ ...rec, ct: ct.toString("base64") })), StoreDecryptionError);
  await assert.rejects(openValue(STORE_KEY, "x", JSON.stringify({ ...rec, v: 2 })), StoreDecryptionError);
  await assert.rejects(openValue(STORE_KEY, "y", s1), StoreDecryptionError);
});

test("records are the bytes node:crypto wrote before WebCrypto: either reads the other's", { timeout: 30_000 }, async () => {
  const iv = new Uint8Array(12).fill(7);
  const c = createCipheriv("aes-256-gcm", STORE_KEY, iv);
  c.setAAD(Buffer.from("crypto/account", "utf8"));
  const ct = Buffer.concat([c.update("{\"pickle\":\"é✓\"}", "utf8"), c.final(), c.getAuthTag()]);
  const old = JSON.stringify({ v: 1, alg: "A256GCM", iv: Buffer.from(iv).toString("base64"), ct: ct.toString("base64") });
  assert.equal(await openValue(STORE_KEY, "crypto/account", old), "{\"pickle\":\"é✓\"}");
  assert.equal(await sealValue(STORE_KEY, "crypto/account", "{\"pickle\":\"é✓\"}", () => iv.slice()), old);
});

test("deriveStoreKey: scrypt gives node:crypto's 32 bytes, stable for a passphrase and salt, different per salt", { timeout: 60_000 }, async () => {
  const salt1 = new Uint8Array(16).fill(1);
  const k1 = await deriveStoreKey("correct horse", salt1);
  assert.deepEqual(k1, new Uint8Array(scryptSync("correct horse", salt1, 32, { N: 2 ** 17, r: 8, p: 1, maxmem: 2 ** 28 })));
  assert.notDeepEqual(await deriveStoreKey("correct horse", new Uint8Array(16).fill(2)), k1);
  await assert.rejects(deriveStoreKey("x", new Uint8Array(8)), RangeError);
});
