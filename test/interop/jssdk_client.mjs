/**
 * An independent Matrix client for the interop tests: matrix-js-sdk with its Rust crypto (WASM, in
 * Node, a dev dependency only), driven over JSON lines like test/interop/nio_client.py.
 * test/helpers/jssdk.ts starts it with `node`.
 *
 * One request per stdin line, one answer per stdout line, in order (requests run one at a time):
 *
 *   {"id": 1, "op": "init", "homeserver": ..., "user_id": ..., "password": ..., "room_id": ...}
 *   -> {"id": 1, "ok": true, "result": {...}}
 *   -> {"id": 1, "ok": false, "type": "ErrorClass", "error": "..."}
 *
 * Ops:
 *   init           log in (a device of its own), start the Rust crypto (in memory) and /sync, join the room
 *   crossSign      bootstrap cross-signing (the first upload's auth answered with the password)
 *   trustIdentity  {recoveryKey}: the account's existing cross-signing keys from secret storage (no new keys)
 *   createBackup   new secret storage, its recovery key, a new key backup; -> {recoveryKey, version}
 *   restoreBackup  {recoveryKey}: the backup key from secret storage, then every room key from the backup
 *   backedUp       how many Megolm sessions of `room_id` the current backup version holds on the server
 *   put / get      a key in opsdroid's encrypted format: the value as an encrypted dev.opsdroid.database
 *                  room event, the state {key: {"encrypted_val": id}} (get decrypts it)
 *   deviceStatus   {user_id, device_id}: what js-sdk thinks of that device (cross-signed by its owner?)
 *   excludeInsecure  only share room keys with cross-signed devices (MSC4153's "exclude insecure devices")
 *   close
 * Nothing here logs a token or key: the SDK's logger stays at "error" on stderr.
 */
import { createInterface } from "node:readline";

// matrix-js-sdk uses Promise.withResolvers (Node 22+); Node 20 is what the project runs on.
if (!Promise.withResolvers) {
  Promise.withResolvers = function withResolvers() {
    let resolve;
    let reject;
    const promise = new Promise((a, b) => {
      resolve = a;
      reject = b;
    });
    return { promise, resolve, reject };
  };
}

const sdk = await import("matrix-js-sdk");
const { logger } = await import("matrix-js-sdk/lib/logger.js");
const cryptoApi = await import("matrix-js-sdk/lib/crypto-api/index.js");
logger.setLevel("error");

const EVENT_TYPE = "dev.opsdroid.database";
const { version } = await import("matrix-js-sdk/package.json", { with: { type: "json" } }).then((m) => m.default);

let client;
let userId;
let password;
/** The secret-storage key handed to the SDK when it asks (set by createBackup and restoreBackup). */
let secretStorageKey;

function crypto() {
  const c = client?.getCrypto();
  if (!c) throw new Error("init first");
  return c;
}

async function waitForSync() {
  await new Promise((resolve, reject) => {
    const onSync = (state) => {
      if (state === "PREPARED" || state === "SYNCING") {
        client.off("sync", onSync);
        resolve();
      } else if (state === "ERROR") {
        client.off("sync", onSync);
        reject(new Error("first /sync failed"));
      }
    };
    client.on("sync", onSync);
  });
}

const passwordAuth = async (makeRequest) => {
  await makeRequest({ type: "m.login.password", identifier: { type: "m.id.user", user: userId }, password });
};

async function stateContent(roomId, stateKey) {
  try {
    return await client.getStateEvent(roomId, EVENT_TYPE, stateKey);
  } catch (e) {
    if (e?.errcode === "M_NOT_FOUND") return {};
    throw e;
  }
}

const ops = {
  async init(req) {
    userId = req.user_id;
    password = req.password;
    const login = await sdk.createClient({ baseUrl: req.homeserver }).loginRequest({
      type: "m.login.password",
      identifier: { type: "m.id.user", user: userId },
      password,
      initial_device_display_name: "js-sdk-interop",
    });
    client = sdk.createClient({
      baseUrl: req.homeserver,
      accessToken: login.access_token,
      userId: login.user_id,
      deviceId: login.device_id,
      cryptoCallbacks: {
        getSecretStorageKey: async ({ keys }) => (secretStorageKey ? [Object.keys(keys)[0], secretStorageKey] : null),
        cacheSecretStorageKey: () => {},
      },
    });
    await client.initRustCrypto({ useIndexedDB: false });
    const synced = waitForSync();
    await client.startClient({ initialSyncLimit: 20 });
    await synced;
    if (req.room_id) await client.joinRoom(req.room_id);
    return { user_id: login.user_id, device_id: login.device_id, versions: { "matrix-js-sdk": version } };
  },

  async crossSign() {
    await crypto().bootstrapCrossSigning({ authUploadDeviceSigningKeys: passwordAuth, setupNewCrossSigning: true });
    return { ready: await crypto().isCrossSigningReady() };
  },

  async trustIdentity(req) {
    secretStorageKey = cryptoApi.decodeRecoveryKey(req.recoveryKey);
    await crypto().bootstrapCrossSigning({});
    const status = await crypto().getCrossSigningStatus();
    return { ready: await crypto().isCrossSigningReady(), privateKeysCached: status.privateKeysCachedLocally };
  },

  async createBackup() {
    const key = await crypto().createRecoveryKeyFromPassphrase();
    secretStorageKey = key.privateKey;
    await crypto().bootstrapSecretStorage({ createSecretStorageKey: async () => key, setupNewSecretStorage: true, setupNewKeyBackup: true });
    const info = await crypto().getKeyBackupInfo();
    return { recoveryKey: key.encodedPrivateKey, version: info?.version ?? null };
  },

  async restoreBackup(req) {
    secretStorageKey = cryptoApi.decodeRecoveryKey(req.recoveryKey);
    await crypto().loadSessionBackupPrivateKeyFromSecretStorage();
    const result = await crypto().restoreKeyBackup();
    return { total: result.total, imported: result.imported };
  },

  async backedUp(req) {
    const info = await crypto().getKeyBackupInfo();
    if (!info?.version) return { version: null, sessions: 0 };
    const path = `/room_keys/keys/${encodeURIComponent(req.room_id)}`;
    const body = await client.http.authedRequest("GET", path, { version: info.version });
    return { version: info.version, sessions: Object.keys(body?.sessions ?? {}).length };
  },

  async put(req) {
    const stateKey = req.state_key ?? "";
    const sent = await client.sendEvent(req.room_id, EVENT_TYPE, { [req.key]: req.value });
    const content = { ...(await stateContent(req.room_id, stateKey)), [req.key]: { encrypted_val: sent.event_id } };
    await client.sendStateEvent(req.room_id, EVENT_TYPE, content, stateKey);
    return { event_id: sent.event_id };
  },

  async get(req) {
    const content = await stateContent(req.room_id, req.state_key ?? "");
    if (!Object.prototype.hasOwnProperty.call(content, req.key)) return { found: false };
    const ref = content[req.key];
    if (typeof ref !== "object" || ref === null || typeof ref.encrypted_val !== "string") return { found: true, encrypted: false, value: ref };
    const raw = await client.fetchRoomEvent(req.room_id, ref.encrypted_val);
    const event = new sdk.MatrixEvent(raw);
    await client.decryptEventIfNeeded(event);
    if (event.isDecryptionFailure()) return { found: true, encrypted: true, decrypted: false, reason: event.decryptionFailureReason ?? null };
    return { found: true, encrypted: true, decrypted: true, type: event.getType(), value: event.getContent()[req.key] };
  },

  async deviceStatus(req) {
    await crypto().getUserDeviceInfo([req.user_id], true);
    const status = await crypto().getDeviceVerificationStatus(req.user_id, req.device_id);
    return status ? { signedByOwner: status.signedByOwner, crossSigningVerified: status.crossSigningVerified } : null;
  },

  async excludeInsecure() {
    crypto().setDeviceIsolationMode(new cryptoApi.OnlySignedDevicesIsolationMode());
    return {};
  },

  async close() {
    client?.stopClient();
    return {};
  },
};

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (line.trim() === "") continue;
  let req;
  try {
    req = JSON.parse(line);
    const op = ops[req.op];
    if (!op) throw new Error(`unknown op ${req.op}`);
    const result = await op(req);
    process.stdout.write(`${JSON.stringify({ id: req.id ?? null, ok: true, result })}\n`);
    if (req.op === "close") break;
  } catch (e) {
    const error = e instanceof Error ? e.message : String(e);
    process.stdout.write(`${JSON.stringify({ id: req?.id ?? null, ok: false, type: e?.errcode ?? e?.name ?? "Error", error })}\n`);
  }
}
process.exit(0);
