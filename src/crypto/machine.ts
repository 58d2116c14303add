/**
 * CryptoMachine: the sans-IO Olm/Megolm state machine (docs/STYLE.md "Requests are values"; the
 * shape of matrix-rust-sdk's OlmMachine). Push /sync changes in, pull outgoing requests out, mark
 * them sent. It does no I/O: the only effects are calls on the injected KeyValueStore. The order of
 * protocol steps is in README.md.
 *
 * Every public async method runs under one lock and ends by flushing its store writes in one setMany.
 */
import { type AccountRecord, keysUploadBody, oneTimeKeysToGenerate, SIGNED_CURVE25519, FORGET_OLD_FALLBACK_AFTER_MS } from "./account.js";
import { BackendError, type AccountObj, type CryptoBackend, type IdentityKeys } from "./backend.js";
import type { CryptoContext } from "./context.js";
import { DeviceBook, type DeviceRecord } from "./devices.js";
import { CryptoError, MachineClosedError, MalformedEventError, StoreDecryptionError, StoreOwnerMismatchError, UnknownRequestError } from "./errors.js";
import { InboundGroupSessions } from "./megolm/inbound.js";
import { megolmDecrypt, type RoomEvent } from "./megolm/decrypt.js";
import { megolmEncrypt } from "./megolm/encrypt.js";
import { getOutbound, invalidateOutbound, type RotationSettings } from "./megolm/outbound.js";
import { markShareSent, pendingShares, shareRoomKey } from "./megolm/shares.js";
import { olmBackend } from "./olm/backend.js";
import { applyClaimResponse, claimBody } from "./olm/claim.js";
import { OlmSessions } from "./olm/sessions.js";
import { RoomKeyBackup } from "./backup/room-key-backup.js";
import { requestRoomKey, type KeyForwardingPolicy } from "./key-requests.js";
import { OwnCrossSigning } from "./cross-signing.js";
import { newId, type OutgoingRequest } from "./requests.js";
import { SealedStore, type KeyValueStore, type RandomBytes } from "./store.js";
import { ToDeviceHandler, type DecryptedToDevice } from "./to-device.js";
import { randomBytes } from "./bytes.js";

export type { DecryptedToDevice } from "./to-device.js";

export interface CryptoMachineOptions {
  userId: string;
  deviceId: string;
  store: KeyValueStore;
  /** 32 bytes; see README.md "Keeping the store key". */
  storeKey: Uint8Array;
  now?: () => number;
  random?: RandomBytes;
  /** Prefix of every store key this machine writes (default "crypto/"). */
  storePrefix?: string;
  /** Default: libolm. A vodozemac backend implements the same interface (backend.ts). */
  backend?: CryptoBackend;
  /**
   * Which of our own devices may request and forward room keys at all. Default: every own device
   * whose self-signed keys passed the keys/query checks. Requests are then also subject to
   * forwardRoomKeysTo.
   */
  isTrustedOwnDevice?: (device: DeviceRecord) => boolean;
  /** Which own devices get a room key they request (README "Who gets room keys"). Default "cross-signed". */
  forwardRoomKeysTo?: KeyForwardingPolicy;
  /** Every event or device refused by a spec check, with its typed error (sync batches never throw). */
  onRejected?: (error: CryptoError, subject: unknown) => void;
}

export interface SyncChanges {
  toDevice?: unknown[];
  changedDevices?: { changed?: string[]; left?: string[] };
  oneTimeKeyCounts?: Record<string, number>;
  unusedFallbackKeyTypes?: string[];
}

type Pending =
  | { kind: "keys_upload" }
  | { kind: "keys_query"; users: string[] }
  | { kind: "keys_claim"; devices: DeviceRecord[] }
  | { kind: "to_device" }
  | { kind: "room_key_share" };

const ACCOUNT = "account";
const QUERY_TIMEOUT_MS = 10_000;

export class CryptoMachine {
  private readonly pending = new Map<string, Pending>();
  /** Requests outgoingRequests() hands out (a subset of pending; shareRoomKey/getMissingSessions ones are not). */
  private readonly listed = new Map<string, OutgoingRequest>();
  private uploadInFlight: string | undefined;
  private accountUnflushed = false;
  private readonly claimsInFlight = new Set<string>();
  private lock: Promise<unknown> = Promise.resolve();
  private closed = false;
  private readonly toDevice: ToDeviceHandler;
  /** Server-side key backup: pending room keys, upload bodies, imports (backup/room-key-backup.ts). */
  readonly backup: RoomKeyBackup;
  /** Our cross-signing keys: bootstrap, import from secret storage, signing our devices (cross-signing.ts). */
  readonly crossSigning: OwnCrossSigning;

  private constructor(
    private readonly ctx: CryptoContext,
    private accountRec: AccountRecord,
    private readonly opts: CryptoMachineOptions,
  ) {
    this.toDevice = new ToDeviceHandler(ctx, {
      isTrusted: opts.isTrustedOwnDevice ?? (() => true),
      forwardTo: opts.forwardRoomKeysTo ?? "cross-signed",
      report: (e, s) => this.report(e, s),
      queue: (reqs) => reqs.forEach((r) => this.enqueue(r, true)),
    });
    this.backup = new RoomKeyBackup(ctx, (fn) => this.exclusive(fn));
    this.crossSigning = new OwnCrossSigning(ctx, (fn) => this.exclusive(fn));
  }

  /** Opens (or creates, once) the device's account; a new account is persisted before any upload. */
  static async open(opts: CryptoMachineOptions): Promise<CryptoMachine> {
    const backend = opts.backend ?? (await olmBackend());
    const random = opts.random ?? randomBytes;
    const now = opts.now ?? (() => Date.now());
    const store = new SealedStore(opts.store, opts.storeKey, opts.storePrefix ?? "crypto/", random);
    const pickleKey = opts.storeKey.slice();
    let rec = await store.get<AccountRecord>(ACCOUNT);
    let account: AccountObj;
    if (rec) {
      if (rec.userId !== opts.userId || rec.deviceId !== opts.deviceId) {
        throw new StoreOwnerMismatchError(`${opts.userId}/${opts.deviceId}`, `${rec.userId}/${rec.deviceId}`);
      }
      try {
        account = backend.unpickleAccount(pickleKey, rec.pickle);
      } catch (e) {
        throw e instanceof BackendError ? new StoreDecryptionError(ACCOUNT, e) : e;
      }
    } else {
      // Created once per device: keys generated now, pickled and flushed before anything is uploaded.
      account = backend.newAccount();
      account.generateOneTimeKeys(oneTimeKeysToGenerate(account, 0));
      account.generateFallbackKey();
      rec = { userId: opts.userId, deviceId: opts.deviceId, pickle: account.pickle(pickleKey), deviceKeysUploaded: false };
      store.set(ACCOUNT, rec);
      await store.flush();
    }
    const own = { userId: opts.userId, deviceId: opts.deviceId };
    const devices = new DeviceBook(store, backend, { ...own, ed25519: account.identityKeys().ed25519 });
    const olm = new OlmSessions(store, backend, pickleKey);
    let machine: CryptoMachine | undefined;
    const ctx: CryptoContext = {
      ...own,
      ids: account.identityKeys(),
      backend,
      account,
      store,
      pickleKey,
      devices,
      olm,
      inbound: new InboundGroupSessions(store, backend, pickleKey),
      now,
      random,
      saveAccount: () => machine!.saveAccount(),
    };
    try {
      await devices.load();
      await olm.load();
      await store.flush();
    } catch (e) {
      account.free();
      throw e;
    }
    machine = new CryptoMachine(ctx, rec, opts);
    // Room-key shares not known to have been sent before the last close go out again, as they were.
    for (const share of Object.values(await pendingShares(ctx))) machine.register(share.request, { kind: "room_key_share" }, true);
    return machine;
  }

  identityKeys(): IdentityKeys {
    return { ...this.ctx.ids };
  }

  /** Devices of a user as verified by the last keys/query (our own device excluded). */
  devicesOf(userId: string): DeviceRecord[] {
    return this.ctx.devices.devicesOf(userId);
  }

  // ---- push ------------------------------------------------------------------------------------

  receiveSyncChanges(changes: SyncChanges): Promise<DecryptedToDevice[]> {
    return this.exclusive(async () => {
      const { ctx } = this;
      // 1. Device lists first, so to-device events from new devices find their sender outdated.
      ctx.devices.applySyncChanges(changes.changedDevices?.changed ?? [], changes.changedDevices?.left ?? []);
      // 2. One-time and fallback keys (never while an upload is in flight: publishing would cover new keys).
      this.topUpKeys(changes);
      // 3. To-device events, one at a time; a refused one is reported and skipped.
      const out: DecryptedToDevice[] = [];
      for (const ev of changes.toDevice ?? []) {
        try {
          const r = await this.toDevice.handle(ev);
          if (r) out.push(r);
        } catch (e) {
          if (!(e instanceof CryptoError)) throw e;
          this.report(e, ev);
        }
      }
      return out;
    });
  }

  updateTrackedUsers(userIds: string[]): void {
    this.ensureOpen();
    this.ctx.devices.track(userIds);
  }

  // ---- pull ------------------------------------------------------------------------------------

  /**
   * Requests to send now. A request stays in this list until markRequestAsSent (or
   * markRequestAsFailed) is called with its id, so calling twice returns the same ids.
   */
  outgoingRequests(): OutgoingRequest[] {
    this.ensureOpen();
    const { ctx } = this;
    if (!this.uploadInFlight && !this.accountUnflushed) {
      const body = keysUploadBody(ctx.account, ctx.ids, this.accountRec);
      if (body) {
        const req: OutgoingRequest = { id: newId(ctx.random, "ku_"), kind: "keys_upload", body };
        this.uploadInFlight = req.id;
        this.register(req, { kind: "keys_upload" }, true);
      }
    }
    const users = ctx.devices.usersToQuery();
    if (users.length > 0) {
      ctx.devices.queryStarted(users);
      const body = { device_keys: Object.fromEntries(users.map((u) => [u, [] as string[]])), timeout: QUERY_TIMEOUT_MS };
      this.register({ id: newId(ctx.random, "kq_"), kind: "keys_query", body }, { kind: "keys_query", users }, true);
    }
    const claim = this.claimFor(this.toDevice.devicesNeedingSession());
    if (claim) this.listed.set(claim.id, claim);
    return [...this.listed.values()];
  }

  async markRequestAsSent(requestId: string, response: unknown): Promise<void> {
    return this.exclusive(async () => {
      const p = this.take(requestId);
      const { ctx } = this;
      switch (p.kind) {
        case "keys_upload": {
          // https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3keysupload
          ctx.account.markKeysAsPublished();
          const count = (response as { one_time_key_counts?: Record<string, number> } | undefined)?.one_time_key_counts?.[SIGNED_CURVE25519];
          this.accountRec = { ...this.accountRec, deviceKeysUploaded: true, ...(count !== undefined ? { serverOtkCount: count } : {}) };
          this.saveAccount();
          return;
        }
        case "keys_query":
          for (const e of ctx.devices.applyQueryResponse(p.users, response)) this.report(e, response);
          await this.toDevice.retryAfterDeviceUpdate();
          return;
        case "keys_claim": {
          p.devices.forEach((d) => this.claimsInFlight.delete(d.curve25519));
          const { created, problems } = await applyClaimResponse(ctx, p.devices, response);
          problems.forEach((e) => this.report(e, response));
          await this.toDevice.afterSessionsCreated(created, p.devices);
          return;
        }
        case "to_device":
          return;
        case "room_key_share":
          // Only now do its devices count as having the key (README "Protocol steps" 5.2).
          await markShareSent(ctx, requestId);
          return;
      }
    });
  }

  /** The caller gave up on a request: it is forgotten and rebuilt by the next outgoingRequests(). */
  markRequestAsFailed(requestId: string): void {
    const p = this.take(requestId);
    if (p.kind === "keys_query") this.ctx.devices.queryFailed(p.users);
    if (p.kind === "keys_claim") p.devices.forEach((d) => this.claimsInFlight.delete(d.curve25519));
  }

  // ---- room encryption -------------------------------------------------------------------------

  /** 1) keys/claim for every device of `users` (and our own other devices) we have no Olm session with. */
  getMissingSessions(users: string[]): OutgoingRequest | undefined {
    this.ensureOpen();
    const { ctx } = this;
    const missing = [...new Set([...users, ctx.userId])]
      .flatMap((u) => ctx.devices.devicesOf(u))
      .filter((d) => !(d.userId === ctx.userId && d.deviceId === ctx.deviceId) && !ctx.olm.hasSession(d.curve25519));
    return this.claimFor(missing, false);
  }

  /**
   * 2) m.room_key over Olm to every device of every user not yet reached (rotating first if due).
   * The requests are persisted until marked sent, and listed by outgoingRequests() after a restart.
   */
  shareRoomKey(roomId: string, users: string[], settings: RotationSettings = {}): Promise<OutgoingRequest[]> {
    return this.exclusive(async () => {
      const reqs = await shareRoomKey(this.ctx, roomId, users, settings);
      reqs.forEach((r) => this.register(r, { kind: "room_key_share" }, false));
      return reqs;
    });
  }

  /** 3) m.room.encrypted content; throws NoOutboundSessionError when shareRoomKey must run first. */
  encryptRoomEvent(roomId: string, type: string, content: Record<string, unknown>): Promise<Record<string, unknown>> {
    return this.exclusive(() => megolmEncrypt(this.ctx, roomId, type, content));
  }

  decryptRoomEvent(event: RoomEvent): Promise<{
    type: string;
    content: Record<string, unknown>;
    senderCurve25519: string;
    claimedEd25519?: string;
    forwarded: boolean;
  }> {
    return this.exclusive(async () => {
      if (typeof event?.room_id !== "string" || typeof event.event_id !== "string" || typeof event.content !== "object") {
        throw new MalformedEventError("room event room_id/event_id/content");
      }
      const { messageIndex: _i, ...r } = await megolmDecrypt(this.ctx.inbound, event);
      return r;
    });
  }

  /** Queue an m.room_key_request to our own other devices (a promise only so tests can wait for it). */
  requestRoomKey(roomId: string, sessionId: string, senderKey?: string): Promise<void> {
    return this.exclusive(async () => {
      (await requestRoomKey(this.ctx, roomId, sessionId, senderKey)).forEach((r) => this.enqueue(r, true));
    });
  }

  /** A member left: the next shareRoomKey starts a new session. */
  onRoomMemberLeft(roomId: string): Promise<void> {
    return this.exclusive(async () => invalidateOutbound(this.ctx, await getOutbound(this.ctx, roomId)));
  }

  /** Frees the account, the only long-lived Olm object (all others are freed after each use). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.ctx.account.free();
  }

  // ---- internals -------------------------------------------------------------------------------

  private topUpKeys(changes: SyncChanges): void {
    const { ctx } = this;
    if (this.uploadInFlight) return;
    if (changes.oneTimeKeyCounts) {
      const count = changes.oneTimeKeyCounts[SIGNED_CURVE25519] ?? 0;
      this.accountRec = { ...this.accountRec, serverOtkCount: count };
      const n = oneTimeKeysToGenerate(ctx.account, count);
      if (n > 0) ctx.account.generateOneTimeKeys(n);
      this.saveAccount();
    }
    const types = changes.unusedFallbackKeyTypes;
    if (types && !types.includes(SIGNED_CURVE25519) && this.accountRec.deviceKeysUploaded) {
      if (Object.keys(ctx.account.unpublishedFallbackKey()).length === 0) {
        ctx.account.generateFallbackKey();
        this.accountRec = { ...this.accountRec, fallbackRotatedAt: ctx.now() };
        this.saveAccount();
      }
    }
    const rotated = this.accountRec.fallbackRotatedAt;
    if (rotated !== undefined && ctx.now() - rotated >= FORGET_OLD_FALLBACK_AFTER_MS) {
      ctx.account.forgetOldFallbackKey();
      const { fallbackRotatedAt: _f, ...rest } = this.accountRec;
      this.accountRec = rest;
      this.saveAccount();
    }
  }

  private saveAccount(): void {
    this.accountRec = { ...this.accountRec, pickle: this.ctx.account.pickle(this.ctx.pickleKey) };
    this.ctx.store.set(ACCOUNT, this.accountRec);
    this.accountUnflushed = true;
  }

  private claimFor(devices: DeviceRecord[], listed = true): OutgoingRequest | undefined {
    const todo = devices.filter((d) => !this.claimsInFlight.has(d.curve25519));
    if (todo.length === 0) return undefined;
    todo.forEach((d) => this.claimsInFlight.add(d.curve25519));
    const req: OutgoingRequest = { id: newId(this.ctx.random, "kc_"), kind: "keys_claim", body: claimBody(todo) };
    this.register(req, { kind: "keys_claim", devices: todo }, listed);
    return req;
  }

  private register(req: OutgoingRequest, p: Pending, listed: boolean): void {
    this.pending.set(req.id, p);
    if (listed) this.listed.set(req.id, req);
  }

  private enqueue(req: OutgoingRequest, listed: boolean): void {
    this.register(req, { kind: "to_device" }, listed);
  }

  private take(requestId: string): Pending {
    this.ensureOpen();
    const p = this.pending.get(requestId);
    if (!p) throw new UnknownRequestError(requestId);
    this.pending.delete(requestId);
    this.listed.delete(requestId);
    if (this.uploadInFlight === requestId) this.uploadInFlight = undefined;
    return p;
  }

  private report(e: CryptoError, subject: unknown): void {
    this.opts.onRejected?.(e, subject);
  }

  private ensureOpen(): void {
    if (this.closed) throw new MachineClosedError();
  }

  private exclusive<R>(fn: () => Promise<R>): Promise<R> {
    const run = async (): Promise<R> => {
      this.ensureOpen();
      try {
        return await fn();
      } finally {
        // Flush even after a refused event: replay records and used one-time keys must persist.
        if (!this.closed) {
          await this.ctx.store.flush();
          this.accountUnflushed = false;
        }
      }
    };
    const result = this.lock.then(run, run);
    this.lock = result.catch(() => undefined);
    return result;
  }
}
