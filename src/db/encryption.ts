/**
 * Encrypted values (opsdroid's format, docs/OPSDROID.md "Encrypted values"): the memory's
 * ValueCrypto over the sans-IO CryptoMachine (src/crypto). The order of steps follows
 * src/crypto/README.md "Protocol steps".
 *
 * Writing a value in an encrypted room (encryptValue), one room at a time:
 *   1. track every joined member and send the keys/query that needs
 *      https://spec.matrix.org/v1.19/client-server-api/#tracking-the-device-list-for-a-user
 *   2. keys/claim for devices with no Olm session, then m.room_key to every device not reached yet
 *      (rotating first when the room's rotation settings or a departure require it)
 *      https://spec.matrix.org/v1.19/client-server-api/#mmegolmv1aes-sha2
 *   3. Megolm-encrypt {type: dev.opsdroid.database, content: {key: value, ...}} and send it as
 *      m.room.encrypted with one txnId per event (a resend is answered with the first event); values
 *      put together share an event (./value-batches.ts)
 *      https://spec.matrix.org/v1.19/client-server-api/#put_matrixclientv3roomsroomidsendeventtypetxnid
 * Reading (decryptValue): GET the event, Megolm-decrypt it (the machine checks room, sender and
 * replay), take content[key]; an event is fetched and decrypted once, and the values it carries are
 * cached by (room, event ID, key). On an unknown session the key is requested from our own other
 * devices, and a later read can succeed.
 *
 * After every /sync: to-device events, device lists and key counts go to the machine before the sync
 * token is saved (beforeSyncCommit); then members of encrypted rooms are tracked and every request
 * the machine has queued is sent (CryptoDriver).
 * Once our device keys are up, cross-signing is bootstrapped if this device has not published its
 * keys yet (./cross-signing-setup.ts; failures go to onError, encryption works on).
 */
import { CryptoMachine, CryptoError, NoOutboundSessionError, olmBackend, UnknownSessionError, type CryptoBackend, type KeyForwardingPolicy, type OlmWasm, type SyncChanges } from "../crypto/index.js";
import type { HttpClient } from "../http/client.js";
import { getEvent } from "../http/endpoints/events/get-event.js";
import { send } from "../http/endpoints/events/send.js";
import { isMatrixError } from "../http/errors.js";
import { queryKeys } from "../http/endpoints/keys/query-keys.js";
import type { Store } from "../store/store.js";
import type { SyncLoop, SyncResponse } from "../sync/sync-loop.js";
import { CryptoDriver } from "./crypto-driver.js";
import { EncryptionUnavailableError, UndecryptableValueError } from "./errors.js";
import { VALUE_EVENT_TYPE } from "./format.js";
import { ACCOUNT_RECORD, type ValueCrypto } from "./value-crypto.js";
import { loadStoreKey, storeKeySource } from "./store-key.js";
import { KeyBackup, type CrossSigningSecrets, type UnlockedRecovery } from "./key-backup.js";
import { CrossSigningSetup } from "./cross-signing-setup.js";
import { ValueBatches } from "./value-batches.js";

const ENCRYPTED = "m.room.encrypted";

export interface EncryptionOptions {
  /** false: no crypto layer at all (puts in encrypted rooms with shouldEncrypt are refused). */
  encryption?: boolean;
  store?: string | Store;
  storePassphrase?: string;
  storeKeyFile?: string;
  olmWasm?: OlmWasm;
  /** src/db/options.ts; default "cross-signed". */
  forwardRoomKeysTo?: KeyForwardingPolicy;
  /** MSC4153: room keys only to devices cross-signed by their owner (src/db/options.ts). */
  excludeInsecureDevices?: boolean;
  /** For the user-interactive auth of a cross-signing upload (./cross-signing-setup.ts). */
  password?: string;
  onError?: (error: unknown) => void;
}

/**
 * The crypto layer for Memory.open, or undefined when it is switched off. When it cannot work
 * (no device ID, no way to keep the store key) the result refuses every call with the reason.
 */
export async function openEncryption(
  opts: EncryptionOptions,
  deps: { http: HttpClient; store: Store; userId: string; deviceId: string | undefined; recovery?: UnlockedRecovery },
): Promise<ValueEncryption | UnavailableEncryption | undefined> {
  if (opts.encryption === false) return undefined;
  if (deps.deviceId === undefined) return new UnavailableEncryption("the session has no device ID (give deviceId, or log in with a password)");
  let backend: CryptoBackend;
  try {
    backend = await olmBackend(opts.olmWasm);
  } catch (e) {
    // A runtime that cannot load the WASM (or was not told where it is): say so on every encrypted call.
    return new UnavailableEncryption(`${e instanceof Error ? e.message : String(e)} (give the olmWasm option: a URL, the bytes or a WebAssembly.Module of @matrix-org/olm/olm.wasm)`);
  }
  const source = storeKeySource(opts, deps.store);
  const storeKey = await loadStoreKey(source, deps.store);
  if (!storeKey) return new UnavailableEncryption(source.kind === "none" ? source.reason : "no store key");
  const onError = opts.onError ?? (() => {});
  const fresh = (await deps.store.get(ACCOUNT_RECORD)) === undefined;
  const machine = await CryptoMachine.open({
    backend,
    userId: deps.userId,
    deviceId: deps.deviceId,
    store: deps.store,
    storeKey,
    forwardRoomKeysTo: opts.forwardRoomKeysTo ?? "cross-signed",
    onRejected: (e) => onError(e),
  });
  storeKey.fill(0);
  if (fresh) {
    // A new account for a device that already has other keys (a token reused without its store):
    // its uploads would be refused and other devices would refuse its changed key. Say so instead.
    const { device_keys } = await deps.http.send(queryKeys, { deviceKeys: { [deps.userId]: [deps.deviceId] } });
    const existing = device_keys?.[deps.userId]?.[deps.deviceId]?.keys[`ed25519:${deps.deviceId}`];
    if (existing !== undefined && existing !== machine.identityKeys().ed25519) {
      machine.close();
      return new UnavailableEncryption(
        `device ${deps.deviceId} already has encryption keys from another session whose crypto store is not here ` +
          "(use the store it was opened with, or log in with a password for a new device)",
      );
    }
  }
  const layer = new ValueEncryption(machine, { userId: deps.userId, deviceId: deps.deviceId, password: opts.password, excludeInsecureDevices: opts.excludeInsecureDevices === true }, deps.http, onError);
  // Memory.open({recoveryKey}): every backed-up room key before the first read; cross-signing keys once our device keys are up.
  if (deps.recovery) {
    layer.restoredCrossSigning = deps.recovery.crossSigning;
    await layer.backup.restore(deps.recovery);
  }
  return layer;
}

/** Refuses every call with one reason (the memory then writes nothing). */
export class UnavailableEncryption implements ValueCrypto {
  constructor(readonly reason: string) {}
  beforeSyncCommit = (): void => undefined;
  attach(): void {}
  async ready(): Promise<void> {}
  async encryptValue(roomId: string): Promise<string> {
    throw new EncryptionUnavailableError(roomId, this.reason);
  }
  async decryptValue(roomId: string, key: string, eventId: string): Promise<unknown> {
    throw new UndecryptableValueError(key, roomId, eventId, `encryption is unavailable: ${this.reason}`);
  }
  async close(): Promise<void> {}
}

export class ValueEncryption implements ValueCrypto {
  readonly machine: CryptoMachine;
  private readonly driver: CryptoDriver;
  /** Server-side key backup (./key-backup.ts): room keys uploaded after each sync and before a value using a new one is sent. */
  readonly backup: KeyBackup;
  /** Cross-signing: bootstrap, status, signing our other devices (./cross-signing-setup.ts). */
  readonly crossSigning: CrossSigningSetup;
  /** Cross-signing keys read from secret storage by Memory.open({recoveryKey}), adopted after our keys upload. */
  restoredCrossSigning: CrossSigningSecrets | undefined;
  private crossSigningReady: Promise<void> | undefined;
  private readonly userId: string;
  private readonly excludeInsecure: boolean;
  private sync: SyncLoop | undefined;
  /** room + event ID -> key -> decrypted value (JSON text, so callers get their own copy). */
  private readonly cache = new Map<string, Map<string, string>>();
  /** room + event ID -> the fetch and decryption in flight (one per event, whatever the keys asked). */
  private readonly decrypting = new Map<string, Promise<Map<string, string>>>();
  /** Values put together go out in one event per room and round. */
  private readonly batches = new ValueBatches((roomId, content) => this.sendValueEvent(roomId, content));
  /** Per room: the tail of its key-sharing + encryption chain. */
  private readonly roomLocks = new Map<string, Promise<unknown>>();
  private firstRun: Promise<void> | undefined;

  constructor(
    machine: CryptoMachine,
    who: { userId: string; deviceId: string; password: string | undefined; excludeInsecureDevices?: boolean },
    private readonly http: HttpClient,
    private readonly onError: (e: unknown) => void,
  ) {
    this.machine = machine;
    this.userId = who.userId;
    this.excludeInsecure = who.excludeInsecureDevices === true;
    this.driver = new CryptoDriver(machine, http, onError);
    this.crossSigning = new CrossSigningSetup(machine, http, who.userId, who.deviceId, who.password, () => this.driver.process());
    // Secret storage keeps the cross-signing keys too; a recovery key made before any bootstrap makes them first.
    this.backup = new KeyBackup(machine, http, who.userId, onError, async () => {
      await this.ensureCrossSigning();
      const s = await machine.crossSigning.secrets();
      return s && { master: s.master, selfSigning: s.self_signing, userSigning: s.user_signing };
    });
  }

  /** SyncLoop's beforeCommit: the machine's writes land before the token that delivered them is saved. */
  beforeSyncCommit = async (response: SyncResponse): Promise<void> => {
    const changes: SyncChanges = {
      toDevice: response.to_device?.events ?? [],
      changedDevices: response.device_lists ?? {},
    };
    if (response.device_one_time_keys_count) changes.oneTimeKeyCounts = response.device_one_time_keys_count;
    const fallback = response.device_unused_fallback_key_types ?? response["org.matrix.msc2732.device_unused_fallback_key_types"];
    if (fallback) changes.unusedFallbackKeyTypes = fallback;
    await this.machine.receiveSyncChanges(changes);
  };

  /** After each applied /sync: track members of encrypted rooms, send what the machine queued. */
  attach(sync: SyncLoop): void {
    this.sync = sync;
    sync.on("sync", () => {
      this.trackEncryptedRooms();
      const run = this.driver.processSoon();
      this.firstRun ??= run;
      void this.backup.upload();
    });
  }

  /** Resolves once the requests after the first sync (our keys upload) have been sent. */
  async ready(): Promise<void> {
    this.trackEncryptedRooms();
    await (this.firstRun ?? this.driver.process());
    await this.ensureCrossSigning();
  }

  /** Once per open, after our device keys are uploaded: adopt restored keys, else bootstrap if not published. Never rejects. */
  ensureCrossSigning(): Promise<void> {
    this.crossSigningReady ??= (async () => {
      await this.driver.process();
      const restored = this.restoredCrossSigning;
      this.restoredCrossSigning = undefined;
      if (restored) await this.crossSigning.adoptRestored(restored);
      await this.crossSigning.ensure();
      await this.driver.process();
    })().catch((e: unknown) => this.onError(e));
    return this.crossSigningReady;
  }

  async encryptValue(roomId: string, key: string, value: unknown): Promise<string> {
    const eventId = await this.batches.add(roomId, key, value);
    this.cached(roomId, eventId).set(key, JSON.stringify(value));
    return eventId;
  }

  async decryptValue(roomId: string, key: string, eventId: string): Promise<unknown> {
    const id = eventKey(roomId, eventId);
    let values = this.cache.get(id);
    if (values === undefined || !values.has(key)) {
      let pending = this.decrypting.get(id);
      if (!pending) {
        pending = this.fetchAndDecrypt(roomId, key, eventId).finally(() => this.decrypting.delete(id));
        this.decrypting.set(id, pending);
      }
      try {
        values = await pending;
      } catch (e) {
        // The first caller's error names its key; every other caller gets its own.
        throw e instanceof UndecryptableValueError && e.key !== key ? new UndecryptableValueError(key, roomId, eventId, e.reason, e.cause) : e;
      }
    }
    const text = values.get(key);
    if (text === undefined) throw new UndecryptableValueError(key, roomId, eventId, `the decrypted event has no field ${JSON.stringify(key)}`);
    return JSON.parse(text) as unknown;
  }

  async close(): Promise<void> {
    await this.crossSigningReady;
    await this.driver.close();
    this.machine.close();
  }

  // ---- writing ---------------------------------------------------------------------------------

  /** One value event: encrypted under the room's lock, sent outside it. */
  private async sendValueEvent(roomId: string, values: Record<string, unknown>): Promise<string> {
    // One txnId per event: the HttpClient's retries reuse it, so the server never makes two events.
    const txnId = this.http.txnId();
    const content = await this.inRoomLock(roomId, () => this.encryptInRoom(roomId, values));
    const { event_id } = await this.http.send(send, { roomId, eventType: ENCRYPTED, txnId, content });
    return event_id;
  }

  private cached(roomId: string, eventId: string): Map<string, string> {
    const id = eventKey(roomId, eventId);
    let values = this.cache.get(id);
    if (!values) this.cache.set(id, (values = new Map()));
    return values;
  }

  private async encryptInRoom(roomId: string, content: Record<string, unknown>): Promise<Record<string, unknown>> {
    await this.ensureCrossSigning();
    const members = this.sync?.room(roomId)?.joinedMembers() ?? [];
    const settings = this.sync?.room(roomId)?.encryption();
    // 1. Devices of every member, up to date.
    this.machine.updateTrackedUsers(members);
    await this.driver.process();
    for (let attempt = 0; ; attempt++) {
      // 2. Olm sessions, then the room key to every device not reached yet.
      const claim = this.machine.getMissingSessions(members);
      if (claim) await this.driver.sendOwn(claim);
      const visibility = this.historyVisibility(roomId);
      const shares = await this.machine.shareRoomKey(roomId, members, {
        sharedHistory: visibility === "shared" || visibility === "world_readable",
        excludeInsecureDevices: this.excludeInsecure,
        ...(settings?.rotation_period_ms !== undefined ? { rotationPeriodMs: settings.rotation_period_ms } : {}),
        ...(settings?.rotation_period_msgs !== undefined ? { rotationPeriodMsgs: settings.rotation_period_msgs } : {}),
      });
      for (const req of shares) await this.driver.sendOwn(req);
      // A new room key reaches the backup before the first value it encrypts reaches the room.
      await this.backup.upload();
      // 3.
      try {
        return await this.machine.encryptRoomEvent(roomId, VALUE_EVENT_TYPE, content);
      } catch (e) {
        // Rotation fell due between sharing and encrypting: share the new session once more.
        if (!(e instanceof NoOutboundSessionError) || attempt > 0) throw e;
      }
    }
  }

  private inRoomLock<R>(roomId: string, fn: () => Promise<R>): Promise<R> {
    const prev = this.roomLocks.get(roomId) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.roomLocks.set(roomId, tail);
    void tail.then(() => {
      if (this.roomLocks.get(roomId) === tail) this.roomLocks.delete(roomId);
    });
    return run;
  }

  // ---- reading ---------------------------------------------------------------------------------

  /** Every value the event carries (JSON text by key); errors name `key`, the value asked for. */
  private async fetchAndDecrypt(roomId: string, key: string, eventId: string): Promise<Map<string, string>> {
    const fail = (reason: string, cause?: unknown) => new UndecryptableValueError(key, roomId, eventId, reason, cause);
    let event: Awaited<ReturnType<typeof this.fetchEvent>>;
    try {
      event = await this.fetchEvent(roomId, eventId);
    } catch (e) {
      if (isMatrixError(e) && e.status === 404) throw fail(`the event was not found in this room (or we may not see it${this.hiddenHistory(roomId)})`, e);
      throw e;
    }
    if (event.type !== ENCRYPTED) throw fail(`the event is not encrypted (type ${event.type})`);
    if (event.room_id !== undefined && event.room_id !== roomId) throw fail(`the event belongs to another room (${event.room_id})`);
    if (event.unsigned?.redacted_because !== undefined || Object.keys(event.content).length === 0) throw fail("the event was redacted");
    const roomEvent = { ...event, room_id: roomId };
    let decrypted: Awaited<ReturnType<CryptoMachine["decryptRoomEvent"]>>;
    try {
      decrypted = await this.decryptWithRetry(roomEvent);
    } catch (e) {
      if (e instanceof UnknownSessionError) {
        // Ask our own other devices; the key comes back as m.forwarded_room_key in a later sync.
        await this.machine.requestRoomKey(e.roomId, e.sessionId, e.senderKey).catch(this.onError);
        void this.driver.process();
        throw fail(`its room key (Megolm session ${e.sessionId}) is unknown to this device${this.laterMember(roomId, event.origin_server_ts)}; it was requested from our other devices, try again later`, e);
      }
      if (e instanceof CryptoError) throw fail(`decryption was refused: ${e.message}`, e);
      throw e;
    }
    if (decrypted.type !== VALUE_EVENT_TYPE) throw fail(`the decrypted event has type ${decrypted.type}, not ${VALUE_EVENT_TYPE}`);
    const values = this.cached(roomId, eventId);
    for (const [k, v] of Object.entries(decrypted.content)) {
      const text = JSON.stringify(v);
      if (text !== undefined) values.set(k, text);
    }
    return values;
  }

  private fetchEvent(roomId: string, eventId: string) {
    return this.http.send(getEvent, { roomId, eventId }) as Promise<{
      type: string;
      room_id?: string;
      event_id: string;
      sender: string;
      origin_server_ts: number;
      content: Record<string, unknown>;
      unsigned?: { redacted_because?: unknown };
    }>;
  }

  /** A room key held back until its sender's devices are queried arrives once queued requests are sent. */
  private async decryptWithRetry(event: Parameters<CryptoMachine["decryptRoomEvent"]>[0]) {
    try {
      return await this.machine.decryptRoomEvent(event);
    } catch (e) {
      if (!(e instanceof UnknownSessionError) || this.machine.outgoingRequests().length === 0) throw e;
      await this.driver.process();
      return await this.machine.decryptRoomEvent(event);
    }
  }

  /** m.room.history_visibility now (the spec's default is shared). */
  private historyVisibility(roomId: string): string {
    const v = this.sync?.room(roomId)?.get("m.room.history_visibility", "")?.content.history_visibility;
    return typeof v === "string" ? v : "shared";
  }

  private hiddenHistory(roomId: string): string {
    const v = this.historyVisibility(roomId);
    return v === "joined" || v === "invited" ? `: the room's history visibility is ${v}, so events from before this account ${v === "joined" ? "joined" : "was invited"} are hidden` : "";
  }

  /** Why a reader that joined after the event may lack its key (https://spec.matrix.org/v1.19/client-server-api/#shareable-encryption-sessions). */
  private laterMember(roomId: string, sentAt: number): string {
    const joinedAt = this.sync?.room(roomId)?.get("m.room.member", this.userId)?.origin_server_ts;
    if (joinedAt === undefined || sentAt >= joinedAt) return "";
    const v = this.historyVisibility(roomId);
    if (v === "joined" || v === "invited") return ` (it was sent before this account joined, and the room's history visibility is ${v}: earlier keys are not shared with later members)`;
    return " (it was sent before this account joined; its sender shares keys only with members present then, unless its session was marked shareable (shared_history) and a member shares the history)";
  }

  private trackEncryptedRooms(): void {
    if (!this.sync) return;
    const users = new Set<string>();
    for (const room of this.sync.rooms().values()) {
      if (room.encryption() && room.membership(this.userId) === "join") for (const u of room.joinedMembers()) users.add(u);
    }
    try {
      this.machine.updateTrackedUsers([...users]);
    } catch (e) {
      this.onError(e);
    }
  }
}

/** Cache key of one event as read in one room (an event of another room must not answer for this one). */
const eventKey = (roomId: string, eventId: string) => `${roomId}\n${eventId}`;
