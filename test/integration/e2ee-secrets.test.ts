/**
 * Secrets stay secret: a unique marker written into an encrypted room appears nowhere in the
 * homeserver's files; the crypto store on disk holds only sealed records (no marker, no Megolm
 * session key another device received, no unsealed pickle); the trace holds no token or password.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Memory } from "../../src/index.js";
import { storeEntries, storeText } from "../helpers/store-files.js";
import { testHomeserver, newUser, type TestUser } from "../helpers/homeserver.js";
import { startNio, type NioPeer } from "../helpers/nio.js";
import { sharedRoom } from "../helpers/rooms.js";
import { eventually } from "../helpers/wait.js";

let hsDir: string;
let baseUrl: string;
let alice: TestUser;
let nina: TestUser;
let roomId: string;
let peer: NioPeer | undefined;
const open: Memory[] = [];
const dirs: string[] = [];

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "mxdb-secrets-"));
  dirs.push(d);
  return d;
}

/** Every regular file under `dir`, recursively. */
function files(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...files(p));
    else if (entry.isFile()) out.push(p);
  }
  return out;
}

/** Files under `dir` whose bytes contain `needle` (as UTF-8). */
function filesContaining(dir: string, needle: string): string[] {
  const bytes = Buffer.from(needle, "utf8");
  return files(dir).filter((f) => readFileSync(f).includes(bytes));
}

before(async () => {
  const hs = await testHomeserver();
  hsDir = hs.info.dir;
  baseUrl = hs.info.baseUrl;
  [alice, nina] = await Promise.all([newUser("alice"), newUser("nina")]);
  roomId = await sharedRoom(alice, [nina], { encrypted: true });
});
after(async () => {
  await Promise.all(open.map((m) => m.close()));
  await peer?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test("a marker written encrypted is nowhere on the server, the crypto store is sealed, the trace has no secrets", { timeout: 600_000 }, async () => {
  const nioStore = tempDir();
  peer = await startNio({ homeserver: baseUrl, user_id: nina.userId, password: nina.password, room_id: roomId, store_path: nioStore });
  const nio = peer;
  const storeDir = tempDir();
  const traceFile = join(tempDir(), "trace.jsonl");
  const marker = `mxdb-marker-${randomBytes(12).toString("hex")}`;
  // A password login: the trace must not hold the password or the token it returns.
  const db = await Memory.open({ homeserver: baseUrl, userId: alice.userId, password: alice.password, rooms: { main: roomId }, store: storeDir, trace: traceFile, syncTimeoutMs: 2000 });
  open.push(db);
  await db.put("secret", { marker });
  await db.flush();
  assert.deepEqual(await db.get("secret"), { marker });

  // The other device received the room key (so we know one session_key to look for).
  const keys = await eventually(
    async () => {
      await nio.request("sync", { timeout: 500 });
      return nio.request<{ room_id: string; session_key: string }[]>("room_keys");
    },
    (k) => k.some((x) => x.room_id === roomId),
    30_000,
  );
  const sessionKey = keys.find((k) => k.room_id === roomId)!.session_key;
  assert.ok(sessionKey.length > 100);
  await db.close();

  // 1. The homeserver's database files (SQLite + WAL), media store and logs.
  const hsFiles = files(hsDir);
  assert.ok(hsFiles.some((f) => f.endsWith(".db")), `no database file under ${hsDir}`);
  assert.deepEqual(filesContaining(hsDir, marker), []);
  // Control: the same search finds a value written in plaintext (shouldEncrypt: false).
  const control = `mxdb-control-${randomBytes(12).toString("hex")}`;
  const plain = await Memory.open({ homeserver: baseUrl, accessToken: alice.accessToken, rooms: { main: roomId }, shouldEncrypt: false, syncTimeoutMs: 2000 });
  open.push(plain);
  await plain.put("control", control);
  await plain.flush();
  assert.ok(
    (await eventually(() => filesContaining(hsDir, control), (f) => f.length > 0, 10_000, 200)).length > 0,
    "the search cannot see the homeserver's data",
  );

  // 2. The crypto store on disk: no marker, no session key, and every crypto record sealed.
  const raw = storeText(storeDir);
  assert.ok(!raw.includes(marker), "marker in the store");
  assert.ok(!raw.includes(sessionKey) && !raw.includes(sessionKey.slice(0, 43)), "a Megolm session key in the store");
  const entries = await storeEntries(storeDir);
  const cryptoKeys = Object.keys(entries).filter((k) => k.startsWith("crypto/"));
  assert.ok(cryptoKeys.includes("crypto/account"), Object.keys(entries).join(", "));
  // The cross-signing private seeds, made on first encrypted use, are sealed like every crypto record.
  assert.ok(cryptoKeys.includes("crypto/cross-signing/keys"), cryptoKeys.join(", "));
  assert.ok(cryptoKeys.length >= 3, cryptoKeys.join(", "));
  for (const k of cryptoKeys) {
    const rec = JSON.parse(entries[k]!) as Record<string, unknown>;
    assert.deepEqual(Object.keys(rec).sort(), ["alg", "ct", "iv", "v"], `${k} is not a sealed record`);
    assert.equal(rec.alg, "A256GCM");
  }
  assert.ok(!/pickle/i.test(raw), "an unsealed pickle field in the store");
  // The store key lives in its own 0600 file, not in the store.
  const keyFile = join(storeDir, "crypto.key");
  assert.equal(statSync(keyFile).mode & 0o777, 0o600);
  assert.ok(!raw.includes(readFileSync(keyFile, "utf8").trim()));

  // 3. The trace: no access token, no password, no marker (the value went out encrypted).
  const trace = readFileSync(traceFile, "utf8");
  assert.ok(trace.length > 0);
  assert.ok(trace.includes("/keys/upload"), "the trace covers the crypto requests");
  assert.ok(trace.includes("/keys/device_signing/upload") && trace.includes("/keys/signatures/upload"), "the trace covers the cross-signing uploads");
  assert.ok(!trace.includes(alice.password), "password in the trace");
  const login = trace.split("\n").find((l) => l.includes("/login"));
  assert.ok(login && !/"access_token":"(?!<redacted>)/.test(login.replace(/\\"/g, '"')), "login token in the trace");
  assert.ok(!trace.includes(alice.accessToken), "access token in the trace");
  assert.ok(!trace.includes(marker), "marker in the trace");
});

test("a passphrase-sealed store reopens with the passphrase and refuses another", { timeout: 600_000 }, async () => {
  const storeDir = tempDir();
  const base = { homeserver: baseUrl, userId: alice.userId, password: alice.password, rooms: { main: roomId }, store: storeDir, syncTimeoutMs: 2000 };
  const db = await Memory.open({ ...base, storePassphrase: "correct horse" });
  await db.put("pp", "sealed by a passphrase");
  await db.close();
  const raw = storeText(storeDir);
  assert.ok(raw.includes("crypto-meta/salt"));
  assert.ok(!raw.includes("correct horse"));
  const again = await Memory.open({ ...base, storePassphrase: "correct horse" });
  open.push(again);
  assert.equal(await again.get("pp"), "sealed by a passphrase");
  await again.close();
  await assert.rejects(Memory.open({ ...base, storePassphrase: "wrong" }), (e: unknown) => (e as Error).name === "StoreDecryptionError");
});
