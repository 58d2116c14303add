import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "../../src/db/errors.js";
import { KEY_FILE_NAME, loadStoreKey, SALT_KEY, storeKeySource } from "../../src/db/store-key.js";
import { MemoryStore, type Store } from "../../src/store/store.js";

function tempDir(t: { after: (fn: () => void) => void }): string {
  const d = mkdtempSync(join(tmpdir(), "mxdb-storekey-"));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

test("a store directory gets a 0600 key file with 32 random bytes, reused on the next start", { timeout: 30_000 }, async (t) => {
  const dir = join(tempDir(t), "store");
  const store = new MemoryStore();
  const source = storeKeySource({ store: dir }, store);
  assert.deepEqual(source, { kind: "file", path: join(dir, KEY_FILE_NAME) });
  const first = await loadStoreKey(source, store);
  assert.equal(first?.length, 32);
  assert.equal(statSync(join(dir, KEY_FILE_NAME)).mode & 0o777, 0o600);
  assert.equal(statSync(dir).mode & 0o777, 0o700);
  const again = await loadStoreKey(source, store);
  assert.deepEqual(again, first);
  assert.equal(Buffer.from(readFileSync(join(dir, KEY_FILE_NAME), "utf8").trim(), "base64").length, 32);
  // Nothing of the key is in the Store itself.
  assert.deepEqual(await store.keys(), []);
});

test("a key file readable by others is tightened to 0600; a malformed one is a ConfigError", { timeout: 30_000 }, async (t) => {
  const dir = tempDir(t);
  const path = join(dir, "k");
  writeFileSync(path, Buffer.alloc(32, 7).toString("base64"));
  chmodSync(path, 0o644);
  const key = await loadStoreKey({ kind: "file", path }, new MemoryStore());
  assert.deepEqual(key, new Uint8Array(32).fill(7));
  assert.equal(statSync(path).mode & 0o777, 0o600);
  writeFileSync(path, "too short");
  await assert.rejects(loadStoreKey({ kind: "file", path }, new MemoryStore()), ConfigError);
});

test("a passphrase derives the same key from the salt kept in the Store; another passphrase another key", { timeout: 30_000 }, async () => {
  const store = new MemoryStore();
  const source = storeKeySource({ storePassphrase: "correct horse", store: "/ignored" }, store);
  assert.equal(source.kind, "passphrase");
  const a = await loadStoreKey(source, store);
  const salt = await store.get(SALT_KEY);
  assert.equal(Buffer.from(salt!, "base64").length, 16);
  assert.deepEqual(await loadStoreKey(source, store), a);
  assert.notDeepEqual(await loadStoreKey({ kind: "passphrase", passphrase: "wrong" }, store), a);
  // A new store gets a new salt, so the same passphrase gives another key.
  assert.notDeepEqual(await loadStoreKey(source, new MemoryStore()), a);
});

test("a MemoryStore keeps one random key per Store object; wiping a returned key does not change it", { timeout: 30_000 }, async () => {
  const store = new MemoryStore();
  const a = await loadStoreKey(storeKeySource({}, store), store);
  const copy = a!.slice();
  a!.fill(0);
  assert.deepEqual(await loadStoreKey({ kind: "memory" }, store), copy);
  assert.notDeepEqual(await loadStoreKey({ kind: "memory" }, new MemoryStore()), copy);
});

test("a custom Store with neither passphrase nor key file has no key, and says why", { timeout: 30_000 }, async () => {
  const custom: Store = { get: async () => undefined, set: async () => {}, setMany: async () => {}, delete: async () => {}, keys: async () => [] };
  const source = storeKeySource({ store: custom }, custom);
  assert.equal(source.kind, "none");
  assert.match((source as { reason: string }).reason, /storePassphrase|storeKeyFile/);
  assert.equal(await loadStoreKey(source, custom), undefined);
});
