/**
 * Cross-signing on the real Synapse (src/db/cross-signing-setup.ts, src/crypto/cross-signing-verify.ts):
 *   - mxdb bootstraps its cross-signing keys on first encrypted use and signs its device; matrix-js-sdk
 *     (Rust crypto), on another device of the same account, sees mxdb's device as signed by its owner,
 *     and as cross-signing verified once it took mxdb's cross-signing keys from secret storage;
 *   - a rogue device, logged in with the password, asks for every room key and gets none; once mxdb
 *     cross-signs it (memory.crossSigning.signDevice, as `mxdb crypto sign-device`), it gets them all;
 *   - a new mxdb device whose account has keys it does not hold leaves them alone ("foreign"), and with
 *     the recovery key restores them from secret storage and signs itself;
 *   - MSC4153 both ways with js-sdk; bootstrap with the recovery key of secret storage js-sdk made.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { Memory, MemoryStore, WrongRecoveryKeyError, type MemoryOptions } from "../../src/index.js";
import { encodeRecoveryKey } from "../../src/crypto/backup/recovery-key.js";
import { UntrustedKeyShareError } from "../../src/crypto/errors.js";
import { testHomeserver, newUser, type TestUser } from "../helpers/homeserver.js";
import { startJsSdk, type JsSdkPeer } from "../helpers/jssdk.js";
import { rogueDevice, type RogueDevice } from "../helpers/rogue-device.js";
import { sharedRoom } from "../helpers/rooms.js";
import { eventually } from "../helpers/wait.js";

let baseUrl: string;
const open = new Set<Memory>();
const peers = new Set<JsSdkPeer>();
const rogues = new Set<RogueDevice>();

async function memory(user: TestUser, roomId: string, extra: Partial<MemoryOptions> = {}): Promise<Memory> {
  const m = await Memory.open({ homeserver: baseUrl, userId: user.userId, password: user.password, rooms: { main: roomId }, store: new MemoryStore(), syncTimeoutMs: 1000, ...extra });
  open.add(m);
  return m;
}

before(async () => {
  baseUrl = (await testHomeserver()).info.baseUrl;
});
after(async () => {
  await Promise.all([...open].map((m) => m.close()));
  await Promise.all([...peers].map((p) => p.close()));
  await Promise.all([...rogues].map((r) => r.close()));
});

const VALUES: Record<string, unknown> = { alpha: { text: "first" }, beta: [1, 2, 3], gamma: "third" };

test("mxdb cross-signs its device on first encrypted use; matrix-js-sdk sees it signed by its owner, and verified once it holds the identity from secret storage", { timeout: 300_000 }, async () => {
  const alice = await newUser("alice");
  const roomId = await sharedRoom(alice, [], { encrypted: true });
  const m = await memory(alice, roomId);
  await m.put("k", "v");
  const status = await m.crossSigning.status();
  assert.equal(status.state, "ours");
  assert.equal(status.deviceSigned, true);
  assert.match(status.masterKey ?? "", /^[A-Za-z0-9+/]{43}$/);
  // A second bootstrap changes nothing.
  const again = await m.crossSigning.bootstrap();
  assert.equal(again.action, "unchanged");
  assert.equal(again.masterKey, status.masterKey);

  const js = await startJsSdk({ homeserver: baseUrl, user_id: alice.userId, password: alice.password, room_id: roomId });
  peers.add(js);
  const seen = await eventually(() => js.request<{ signedByOwner: boolean; crossSigningVerified: boolean } | null>("deviceStatus", { user_id: alice.userId, device_id: m.deviceId }), (s) => s?.signedByOwner === true, 60_000, 250);
  // Signed by its owner's self-signing key; not "verified" by js-sdk, whose own device has not verified the identity.
  assert.deepEqual(seen, { signedByOwner: true, crossSigningVerified: false });
  // js-sdk takes mxdb's cross-signing keys from secret storage (mxdb's recovery key): it now trusts the
  // identity, and through it mxdb's device.
  const recoveryKey = await m.recovery.create();
  const trusted = await js.request<{ ready: boolean; privateKeysCached: { masterKey: boolean; selfSigningKey: boolean; userSigningKey: boolean } }>("trustIdentity", { recoveryKey });
  assert.deepEqual(trusted, { ready: true, privateKeysCached: { masterKey: true, selfSigningKey: true, userSigningKey: true } });
  const verified = await eventually(() => js.request<{ signedByOwner: boolean; crossSigningVerified: boolean } | null>("deviceStatus", { user_id: alice.userId, device_id: m.deviceId }), (s) => s?.crossSigningVerified === true, 60_000, 250);
  assert.deepEqual(verified, { signedByOwner: true, crossSigningVerified: true });
  assert.equal((await m.crossSigning.status()).masterKey, status.masterKey);
});

test("a rogue device with the password gets no room key; cross-signed through mxdb, it gets every one", { timeout: 300_000 }, async () => {
  const alice = await newUser("alice");
  const roomId = await sharedRoom(alice, [], { encrypted: true });
  const refused: UntrustedKeyShareError[] = [];
  const m = await memory(alice, roomId, { onError: (e) => e instanceof UntrustedKeyShareError && refused.push(e) });
  for (const [k, v] of Object.entries(VALUES)) await m.put(k, v);
  assert.equal((await m.crossSigning.status()).deviceSigned, true);

  const rogue = await rogueDevice(baseUrl, alice);
  rogues.add(rogue);
  const before = await rogue.readAll(roomId);
  assert.deepEqual(Object.keys(before).sort(), Object.keys(VALUES).sort());
  const sessions = await rogue.requestAll(roomId, m.deviceId!);
  assert.ok(sessions >= 1);
  // mxdb refuses each request (UntrustedKeyShareError naming the rogue device), and nothing reaches the rogue.
  await eventually(() => refused.filter((e) => e.message.includes(rogue.deviceId)).length, (n) => n >= sessions, 60_000, 100);
  await rogue.sync();
  await rogue.sync();
  for (const [k, v] of Object.entries(await rogue.readAll(roomId))) assert.ok(v instanceof Error, `${k} was readable by the rogue device: ${JSON.stringify(v)}`);
  assert.deepEqual((await m.crossSigning.status()).devices, [{ deviceId: rogue.deviceId, crossSigned: false }]);

  // Cross-signed through mxdb: the same requests now get every key.
  await m.crossSigning.signDevice(rogue.deviceId);
  assert.deepEqual((await m.crossSigning.status()).devices, [{ deviceId: rogue.deviceId, crossSigned: true }]);
  await rogue.requestAll(roomId, m.deviceId!);
  const after = await eventually(
    async () => {
      await rogue.sync();
      return rogue.readAll(roomId);
    },
    (r) => Object.values(r).every((v) => !(v instanceof Error)),
    60_000,
    250,
  );
  assert.deepEqual(after, VALUES);
});

test("keys another device made are never replaced; with the recovery key a new device restores them and signs itself", { timeout: 300_000 }, async () => {
  const alice = await newUser("alice");
  const roomId = await sharedRoom(alice, [], { encrypted: true });
  const first = await memory(alice, roomId);
  await first.put("k", 1);
  const master = (await first.crossSigning.status()).masterKey;
  const recoveryKey = await first.recovery.create();
  open.delete(first);
  await first.close();

  // A new device without the recovery key: the account's keys stay, this device is not signed.
  const second = await memory(alice, roomId);
  await second.put("k2", 2);
  const foreign = await second.crossSigning.bootstrap();
  assert.deepEqual([foreign.action, foreign.state, foreign.masterKey, foreign.deviceSigned], ["foreign", "foreign", master, false]);

  // With the recovery key (Memory.open): the keys come back from secret storage and sign this device.
  const third = await memory(alice, roomId, { recoveryKey });
  const restored = await third.crossSigning.status();
  assert.deepEqual([restored.state, restored.masterKey, restored.deviceSigned], ["ours", master, true]);
  // And through bootstrap on the device that had none.
  const viaBootstrap = await second.crossSigning.bootstrap({ recoveryKey });
  assert.deepEqual([viaBootstrap.action, viaBootstrap.state, viaBootstrap.masterKey, viaBootstrap.deviceSigned], ["restored", "ours", master, true]);
});

interface JsGet {
  found: boolean;
  decrypted?: boolean;
  value?: unknown;
  reason?: string | null;
}

test("MSC4153 both ways: js-sdk sharing only with signed devices reads and is read by mxdb; mxdb with excludeInsecureDevices withholds until js-sdk cross-signs", { timeout: 300_000 }, async () => {
  const [alice, jess] = await Promise.all([newUser("alice"), newUser("jess")]);
  const roomId = await sharedRoom(alice, [jess], { encrypted: true });
  const js = await startJsSdk({ homeserver: baseUrl, user_id: jess.userId, password: jess.password, room_id: roomId });
  peers.add(js);
  const m = await memory(alice, roomId, { excludeInsecureDevices: true });
  assert.equal((await m.crossSigning.status()).deviceSigned, true);
  // mxdb excludes js-sdk's device while it is not cross-signed by its owner.
  await m.put("early", "withheld");

  // js-sdk cross-signs itself (its isolation mode needs that) and from then on shares only with signed
  // devices: it still shares with mxdb's device.
  await js.request("crossSign");
  await js.request("excludeInsecure");
  await js.request("put", { room_id: roomId, key: "from-js", value: { n: 1 } });
  assert.deepEqual(await eventually(() => m.get("from-js").catch((e: unknown) => e), (v) => !(v instanceof Error) && v !== undefined, 60_000, 100), { n: 1 });

  // mxdb shares once it has re-queried jess's devices (device_lists.changed) and seen the signature.
  let n = 0;
  const later = await eventually(
    async () => {
      await m.put("later", { n: ++n });
      return js.request<JsGet>("get", { room_id: roomId, key: "later" });
    },
    (r) => r.decrypted === true,
    60_000,
    500,
  );
  assert.deepEqual(later.value, { n });
  // The session that carried "early" reached js-sdk only from a later index: "early" was never shared with it.
  const early = await js.request<JsGet>("get", { room_id: roomId, key: "early" });
  assert.deepEqual([early.found, early.decrypted], [true, false]);
});

test("bootstrap with the recovery key of existing secret storage: a wrong key uploads nothing; the right one stores the new keys there for the next device", { timeout: 300_000 }, async () => {
  const jess = await newUser("jess");
  const roomId = await sharedRoom(jess, [], { encrypted: false });
  // Secret storage and a backup made by js-sdk, no cross-signing keys yet.
  const js = await startJsSdk({ homeserver: baseUrl, user_id: jess.userId, password: jess.password, room_id: roomId });
  peers.add(js);
  const { recoveryKey } = await js.request<{ recoveryKey: string }>("createBackup");
  await js.close();
  peers.delete(js);

  const m = await memory(jess, roomId);
  const wrong = encodeRecoveryKey(new Uint8Array(32).fill(7));
  const err = await m.crossSigning.bootstrap({ recoveryKey: wrong }).catch((e: unknown) => e);
  assert.ok(err instanceof WrongRecoveryKeyError, String(err));
  assert.equal((await m.crossSigning.status()).state, "none");
  const made = await m.crossSigning.bootstrap({ recoveryKey });
  assert.deepEqual([made.action, made.state, made.deviceSigned], ["created", "ours", true]);

  // A new device restores them with the same key (Memory.open({recoveryKey})).
  const next = await memory(jess, roomId, { recoveryKey, store: new MemoryStore() });
  const restored = await next.crossSigning.bootstrap();
  assert.deepEqual([restored.state, restored.masterKey, restored.deviceSigned], ["ours", made.masterKey, true]);
});
