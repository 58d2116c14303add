/**
 * Server-side key backup and the recovery key on the real Synapse (docs/ENCRYPTION.md "Recovery"):
 * a device writes encrypted values and makes a recovery key; its store is deleted and no other device
 * of the account is online; a NEW device opened with only the recovery key reads every value. A
 * wrong key fails typed and uploads nothing. The trace of it all holds no recovery key bytes.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { Memory, RecoveryKeyFormatError, UndecryptableValueError, WrongRecoveryKeyError, type MemoryOptions } from "../../src/index.js";
import { decodeRecoveryKey, encodeRecoveryKey } from "../../src/crypto/backup/recovery-key.js";
import { getAccountData } from "../../src/http/endpoints/account/account-data.js";
import { getBackupVersion } from "../../src/http/endpoints/room-keys/version.js";
import { getRoomKeys } from "../../src/http/endpoints/room-keys/keys.js";
import { memoryTraceSink, type TraceRecord } from "../../src/http/trace.js";
import { testHomeserver, newUser, type TestUser } from "../helpers/homeserver.js";
import { memories } from "../helpers/memories.js";
import { sharedRoom } from "../helpers/rooms.js";

let baseUrl: string;
let alice: TestUser;
let roomId: string;
const mem = memories("mxdb-recovery-");
const tempDir = () => mem.tempDir();
const close = (m: Memory) => mem.close(m);

function memory(options: Partial<MemoryOptions>): Promise<Memory> {
  return mem.open({ homeserver: baseUrl, rooms: { main: roomId }, ...options } as MemoryOptions);
}

before(async () => {
  baseUrl = (await testHomeserver()).info.baseUrl;
  alice = await newUser("alice");
  roomId = await sharedRoom(alice, [], { encrypted: true });
});
after(async () => {
  await mem.cleanup();
});

const VALUES: Record<string, unknown> = {
  greeting: { hello: "world", n: 1 },
  list: [1, 2, 3, "four"],
  number: 42,
  nested: { deep: { deeper: ["x", { y: null }] } },
};

/** Every way the key's bytes could show: the text, without spaces, and the raw key in base64 forms. */
function forms(recoveryKey: string): string[] {
  const raw = Buffer.from(decodeRecoveryKey(recoveryKey));
  return [recoveryKey, recoveryKey.replace(/ /g, ""), raw.toString("base64"), raw.toString("base64").replace(/=+$/, ""), raw.toString("base64url"), raw.toString("hex")];
}

function traceText(records: TraceRecord[]): string {
  return JSON.stringify(records);
}

test("store deleted, no other device: a new device with only the recovery key reads every encrypted value", { timeout: 600_000 }, async () => {
  const trace = memoryTraceSink();
  const firstStore = tempDir();
  const a = await memory({ userId: alice.userId, password: alice.password, store: firstStore, trace });
  for (const [k, v] of Object.entries(VALUES)) await a.put(k, v);
  const recoveryKey = await a.recovery.create();
  assert.match(recoveryKey, /^(\S{4} ){11}\S{4}$/);
  // Values written after the recovery key exists are backed up too (before they are sent).
  await a.put("after-create", { written: "later" });
  const status = await a.recovery.status();
  assert.equal(status.deviceBackup?.pending, 0);
  assert.equal(status.serverBackup?.version, status.deviceBackup?.version);
  assert.ok(status.secretStorageKeyId);
  // The server holds the room key(s), encrypted: no plaintext field of a session.
  const keys = await alice.client.send(getRoomKeys, { version: status.serverBackup!.version });
  const sessions = Object.values(keys.rooms[roomId]!.sessions);
  assert.ok(sessions.length >= 1);
  for (const s of sessions) assert.deepEqual(Object.keys(s.session_data).sort(), ["ciphertext", "ephemeral", "mac"]);
  await close(a);
  rmSync(firstStore, { recursive: true, force: true });

  // A new device (password login, fresh store): without the key it cannot read.
  const blind = await memory({ userId: alice.userId, password: alice.password, store: tempDir() });
  await assert.rejects(blind.get("greeting"), UndecryptableValueError);
  await close(blind);

  const restored = await memory({ userId: alice.userId, password: alice.password, store: tempDir(), recoveryKey, trace });
  assert.notEqual(restored.deviceId, a.deviceId);
  for (const [k, v] of Object.entries({ ...VALUES, "after-create": { written: "later" } })) assert.deepEqual(await restored.get(k), v, k);
  const after = await restored.recovery.status();
  assert.equal(after.lastRestore?.failed, 0);
  assert.ok((after.lastRestore?.imported ?? 0) >= 1);
  // It keeps backing up: its own new room keys go to the same backup.
  await restored.put("from-restored", "yes");
  assert.equal((await restored.recovery.status()).deviceBackup?.pending, 0);
  await close(restored);

  // The recovery key appears nowhere in the trace of creating and restoring.
  const text = traceText(trace.records);
  for (const f of forms(recoveryKey)) assert.ok(!text.includes(f), `trace holds the recovery key as ${f.slice(0, 6)}…`);
  // Its secret storage objects are there, as ciphertext.
  assert.ok(text.includes("m.secret_storage.default_key"));
});

test("a wrong recovery key: WrongRecoveryKeyError, and nothing is uploaded or overwritten; a malformed one is refused before any request", { timeout: 600_000 }, async () => {
  const setup = await memory({ userId: alice.userId, password: alice.password, store: tempDir() });
  await setup.put("wrong-key-test", 1);
  await setup.recovery.create();
  await close(setup);
  const before = {
    backup: await alice.client.send(getBackupVersion, undefined),
    def: await alice.client.send(getAccountData, { userId: alice.userId, type: "m.secret_storage.default_key" }),
  };
  const wrong = encodeRecoveryKey(new Uint8Array(32).fill(7));
  const trace = memoryTraceSink();
  await assert.rejects(memory({ userId: alice.userId, password: alice.password, store: tempDir(), recoveryKey: wrong, trace }), WrongRecoveryKeyError);
  // Only the login and reads went out: no keys upload, no backup, no account data written.
  const writes = trace.records.filter((r) => r.method !== "GET" && !r.url.endsWith("/login"));
  assert.deepEqual(writes.map((r) => `${r.method} ${new URL(r.url).pathname}`), []);
  assert.deepEqual(await alice.client.send(getBackupVersion, undefined), before.backup);
  assert.deepEqual(await alice.client.send(getAccountData, { userId: alice.userId, type: "m.secret_storage.default_key" }), before.def);

  const malformed = memoryTraceSink();
  await assert.rejects(memory({ userId: alice.userId, password: alice.password, recoveryKey: "EsTc LW2K PGiF wKEA", trace: malformed }), RecoveryKeyFormatError);
  assert.deepEqual(malformed.records, []);
});
