import { createHmac } from "node:crypto";
import { test } from "node:test";
import assert from "node:assert/strict";
import { registrationMac } from "../../src/http/endpoints/admin/register.js";
import { adminRegister } from "../../src/http/endpoints/admin/register.js";
import { HttpClient } from "../../src/http/client.js";

// The vector is computed independently with node:crypto, over the byte layout Synapse documents.
function reference(secret: string, nonce: string, user: string, password: string, admin: boolean): string {
  const h = createHmac("sha1", Buffer.from(secret, "utf8"));
  for (const [i, part] of [nonce, user, password, admin ? "admin" : "notadmin"].entries()) {
    if (i > 0) h.update(Buffer.from([0]));
    h.update(Buffer.from(part, "utf8"));
  }
  return h.digest("hex");
}

test("registrationMac is HMAC-SHA1 over nonce\\0user\\0password\\0notadmin", { timeout: 30_000 }, () => {
  const mac = registrationMac("s3cret", "abc123", "alice", "pw", false);
  assert.equal(mac, reference("s3cret", "abc123", "alice", "pw", false));
  assert.match(mac, /^[0-9a-f]{40}$/);
});

test("the admin flag changes the mac, and non-ASCII is hashed as UTF-8", { timeout: 30_000 }, () => {
  const user = registrationMac("k", "n", "bob", "pässwörd", true);
  assert.equal(user, reference("k", "n", "bob", "pässwörd", true));
  assert.notEqual(user, registrationMac("k", "n", "bob", "pässwörd", false));
});

test("field boundaries matter: moving a character across the NUL gives a different mac", { timeout: 30_000 }, () => {
  assert.notEqual(registrationMac("k", "n", "ab", "c", false), registrationMac("k", "n", "a", "bc", false));
});

test("the register request carries exactly the documented fields", { timeout: 30_000 }, () => {
  const client = new HttpClient({ baseUrl: "http://127.0.0.1:1", transport: async () => ({ status: 200, headers: {}, body: new Uint8Array() }) });
  const req = client.buildRequest(adminRegister, { nonce: "n", username: "alice", password: "pw", admin: false, mac: "ff" });
  assert.equal(req.method, "POST");
  assert.equal(req.url, "http://127.0.0.1:1/_synapse/admin/v1/register");
  assert.equal(req.headers.authorization, undefined);
  assert.deepEqual(JSON.parse(new TextDecoder().decode(req.body)), { nonce: "n", username: "alice", password: "pw", admin: false, mac: "ff" });
});
