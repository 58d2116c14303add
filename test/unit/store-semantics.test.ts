import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileStore, FILE_STORE_NAME } from "../../src/store/file-store.js";
import { MemoryStore, StoreFormatError, type Store } from "../../src/store/store.js";

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), "mxdb-store-test-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const kinds: [string, (t: { after(fn: () => void): void }) => Store][] = [
  ["MemoryStore", () => new MemoryStore()],
  ["FileStore", (t) => new FileStore(join(tempDir(t), "store"))],
];

for (const [name, make] of kinds) {
  test(`${name}: get/set/delete/keys/setMany`, { timeout: 30_000 }, async (t) => {
    const s = make(t);
    assert.equal(await s.get("a"), undefined);
    await s.set("sync/a", "1");
    await s.set("sync/b", "2");
    await s.set("crypto/x", "3");
    assert.equal(await s.get("sync/a"), "1");
    assert.deepEqual(await s.keys("sync/"), ["sync/a", "sync/b"]);
    assert.deepEqual(await s.keys(), ["crypto/x", "sync/a", "sync/b"]);
    await s.setMany({ "sync/a": undefined, "sync/c": "4", "crypto/x": "5" });
    assert.deepEqual(await s.keys(), ["crypto/x", "sync/b", "sync/c"]);
    assert.equal(await s.get("crypto/x"), "5");
    await s.delete("sync/b");
    assert.equal(await s.get("sync/b"), undefined);
    await s.close?.();
  });
}

test("FileStore: data survives a reopen; file 0600, directory 0700; the file carries format and version", { timeout: 30_000 }, async (t) => {
  const dir = join(tempDir(t), "nested", "store");
  const a = new FileStore(dir);
  await a.setMany({ k: "v", "with\nnewline": "é\u0000" });
  await a.close();
  assert.equal(statSync(dir).mode & 0o777, 0o700);
  assert.equal(statSync(join(dir, FILE_STORE_NAME)).mode & 0o777, 0o600);
  const doc = JSON.parse(readFileSync(join(dir, FILE_STORE_NAME), "utf8"));
  assert.equal(doc.format, "mxdb-store");
  assert.equal(doc.version, 1);
  const b = new FileStore(dir);
  assert.equal(await b.get("k"), "v");
  assert.equal(await b.get("with\nnewline"), "é\u0000");
});

test("FileStore: a crash between the temporary write and the rename leaves the old file valid", { timeout: 30_000 }, async (t) => {
  const dir = tempDir(t);
  const a = new FileStore(dir);
  await a.setMany({ token: "s1", room: "old" });
  // What a crash leaves: a complete or half-written temporary file that was never renamed.
  writeFileSync(join(dir, `${FILE_STORE_NAME}.tmp-99999-1`), '{"format":"mxdb-store","version":1,"entries":{"token":"s2","ro');
  const b = new FileStore(dir);
  assert.equal(await b.get("token"), "s1");
  assert.equal(await b.get("room"), "old");
  assert.deepEqual(readdirSync(dir), [FILE_STORE_NAME], "the stale temporary file is removed");
});

test("FileStore: a failed write leaves both the file and the in-memory view unchanged", { timeout: 30_000 }, async (t) => {
  const dir = tempDir(t);
  const s = new FileStore(dir);
  await s.set("a", "1");
  await assert.rejects(s.setMany({ a: "2", b: 3 as unknown as string }), TypeError);
  assert.equal(await s.get("a"), "1");
  assert.equal(await s.get("b"), undefined);
  assert.equal(await new FileStore(dir).get("a"), "1");
  // The queue keeps working after a failure.
  await s.set("a", "3");
  assert.equal(await new FileStore(dir).get("a"), "3");
});

test("FileStore: concurrent writes are serialised, none lost", { timeout: 30_000 }, async (t) => {
  const s = new FileStore(tempDir(t));
  await Promise.all(Array.from({ length: 20 }, (_, i) => s.set(`k${i}`, String(i))));
  assert.equal((await s.keys()).length, 20);
});

test("FileStore: a corrupted file and an unknown format version are clear, typed errors", { timeout: 30_000 }, async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, FILE_STORE_NAME), "{ not json");
  await assert.rejects(new FileStore(dir).get("x"), (e: unknown) => e instanceof StoreFormatError && /not valid JSON/.test(e.message) && e.code === "STORE_FORMAT");
  writeFileSync(join(dir, FILE_STORE_NAME), JSON.stringify({ format: "mxdb-store", version: 7, entries: {} }));
  await assert.rejects(new FileStore(dir).get("x"), (e: unknown) => e instanceof StoreFormatError && e.foundVersion === 7 && /version 7/.test(e.message));
  writeFileSync(join(dir, FILE_STORE_NAME), JSON.stringify({ something: "else" }));
  await assert.rejects(new FileStore(dir).keys(), StoreFormatError);
});
