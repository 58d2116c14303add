/**
 * Incoming to-device events, in order:
 *   1. m.room.encrypted (Olm): decrypt and check the payload (olm/decrypt.ts). If the sender's device is
 *      not known yet, re-query the sender's devices and check again after keys/query (once). If no
 *      session decrypts it, the session is wedged: claim a new one and send m.dummy over it, at most
 *      once per hour per device (spec "Recovering from undecryptable messages").
 *   2. the decrypted payload: m.room_key -> inbound Megolm session; m.forwarded_room_key -> only from
 *      our own trusted devices (key-requests.ts); m.room_key_request -> answer; m.dummy -> nothing.
 *   3. plaintext m.room_key / m.forwarded_room_key: refused (UnencryptedRoomKeyError);
 *      plaintext m.room_key_request: answered (the spec sends requests unencrypted);
 *      anything else is handed back to the caller unchanged.
 */
import type { CryptoContext } from "./context.js";
import type { DeviceRecord } from "./devices.js";
import { type CryptoError, MalformedEventError, OlmDecryptionError, UnencryptedRoomKeyError, UnknownSenderDeviceError } from "./errors.js";
import { acceptForwardedKey, answerKeyRequest, type KeyForwardingPolicy } from "./key-requests.js";
import { roomKeyFields } from "./megolm/inbound.js";
import { olmDecrypt, checkSenderDevice, type OlmDecrypted } from "./olm/decrypt.js";
import { olmEncrypt } from "./olm/encrypt.js";
import { toDeviceRequests, type ToDeviceRequest } from "./requests.js";

export interface DecryptedToDevice {
  type: string;
  sender: string;
  content: Record<string, unknown>;
  /** True when it arrived Olm-encrypted and passed every payload check. */
  encrypted: boolean;
  senderCurve25519?: string;
  senderDeviceId?: string;
}

export const WEDGE_RECOVERY_INTERVAL_MS = 60 * 60 * 1000;
const MAX_KEY_REQUEST_ATTEMPTS = 3;
const PENDING_OLM = "pending-olm";
const WEDGE_FIXES = "wedge-fixes";

interface PendingOlm {
  sender: string;
  decrypted: OlmDecrypted;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Room keys are secrets: the caller gets the event for information, without its session_key. */
function withoutSecrets(type: string, content: Record<string, unknown>): Record<string, unknown> {
  if (type !== "m.room_key" && type !== "m.forwarded_room_key") return content;
  const { session_key: _k, ...rest } = content;
  return rest;
}

export class ToDeviceHandler {
  private readonly needSession = new Map<string, DeviceRecord>();
  private readonly dummyFor = new Set<string>();
  private keyRequests: { sender: string; content: Record<string, unknown>; attempts: number }[] = [];

  constructor(
    private readonly ctx: CryptoContext,
    private readonly hooks: {
      isTrusted: (d: DeviceRecord) => boolean;
      forwardTo: KeyForwardingPolicy;
      report: (e: CryptoError, subject: unknown) => void;
      queue: (reqs: ToDeviceRequest[]) => void;
    },
  ) {}

  devicesNeedingSession(): DeviceRecord[] {
    return [...this.needSession.values()];
  }

  async handle(ev: unknown): Promise<DecryptedToDevice | undefined> {
    if (!isObj(ev) || typeof ev.type !== "string" || typeof ev.sender !== "string" || !isObj(ev.content)) {
      throw new MalformedEventError("to-device event type/sender/content");
    }
    const { type, sender, content } = ev;
    switch (type) {
      case "m.room.encrypted":
        return this.handleEncrypted(sender, content);
      case "m.room_key":
      case "m.forwarded_room_key":
        throw new UnencryptedRoomKeyError(type, sender);
      case "m.room_key_request":
        await this.keyRequest(sender, content, 0);
        return { type, sender, content, encrypted: false };
      default:
        return { type, sender, content, encrypted: false };
    }
  }

  private async handleEncrypted(sender: string, content: Record<string, unknown>): Promise<DecryptedToDevice | undefined> {
    let d: OlmDecrypted;
    try {
      d = await olmDecrypt(this.ctx, { sender, content });
    } catch (e) {
      if (e instanceof OlmDecryptionError) await this.wedged(sender, e.senderKey);
      throw e;
    }
    return this.payload(sender, d, true);
  }

  private async payload(sender: string, d: OlmDecrypted, mayDefer: boolean): Promise<DecryptedToDevice | undefined> {
    const { ctx } = this;
    let device: DeviceRecord;
    try {
      device = checkSenderDevice(ctx, sender, d);
    } catch (e) {
      if (!(e instanceof UnknownSenderDeviceError) || !mayDefer) throw e;
      // The device may be newer than our list: query the sender again, then check once more.
      ctx.devices.track([sender]);
      ctx.devices.markOutdated(sender);
      const pending = (await ctx.store.get<PendingOlm[]>(PENDING_OLM)) ?? [];
      ctx.store.set(PENDING_OLM, [...pending, { sender, decrypted: d }]);
      return undefined;
    }
    const { type, content } = d.payload;
    switch (type) {
      case "m.room_key":
        await ctx.inbound.offer(roomKeyFields(content), false, {
          senderKey: d.senderKey,
          claimedEd25519: d.payload.keys.ed25519,
          senderUserId: sender,
          forwarded: false,
          forwardingChain: [],
          sharedHistory: content.shared_history === true,
        });
        break;
      case "m.forwarded_room_key":
        this.hooks.queue((await acceptForwardedKey(ctx, device, content, this.hooks.isTrusted)).cancel);
        break;
      case "m.room_key_request":
        await this.keyRequest(sender, content, 0);
        break;
    }
    return { type, sender, content: withoutSecrets(type, content), encrypted: true, senderCurve25519: d.senderKey, senderDeviceId: device.deviceId };
  }

  /** A fresh keys/query landed: re-check deferred payloads (once) and waiting key requests. */
  async retryAfterDeviceUpdate(): Promise<void> {
    const pending = (await this.ctx.store.get<PendingOlm[]>(PENDING_OLM)) ?? [];
    const keep = pending.filter((p) => this.ctx.devices.isOutdated(p.sender));
    const ready = pending.filter((p) => !this.ctx.devices.isOutdated(p.sender));
    if (ready.length > 0) this.ctx.store.set(PENDING_OLM, keep);
    for (const p of ready) await this.guard(() => this.payload(p.sender, p.decrypted, false), p);
    await this.retryKeyRequests();
  }

  /** Olm sessions were claimed: send the m.dummy that re-establishes a wedged session, answer requests. */
  async afterSessionsCreated(created: DeviceRecord[], asked: DeviceRecord[]): Promise<void> {
    asked.forEach((d) => this.needSession.delete(d.curve25519));
    for (const d of created) {
      if (!this.dummyFor.delete(d.curve25519)) continue;
      const encrypted = await olmEncrypt(this.ctx, d, "m.dummy", {});
      if (encrypted) this.hooks.queue(toDeviceRequests(this.ctx.random, "m.room.encrypted", [{ userId: d.userId, deviceId: d.deviceId, content: encrypted }]));
    }
    await this.retryKeyRequests();
  }

  private async wedged(sender: string, senderKey: string): Promise<void> {
    const device = this.ctx.devices.byCurve(sender, senderKey);
    if (!device) return;
    const fixes = (await this.ctx.store.get<Record<string, number>>(WEDGE_FIXES)) ?? {};
    const last = fixes[senderKey];
    if (last !== undefined && this.ctx.now() - last < WEDGE_RECOVERY_INTERVAL_MS) return;
    this.ctx.store.set(WEDGE_FIXES, { ...fixes, [senderKey]: this.ctx.now() });
    this.needSession.set(senderKey, device);
    this.dummyFor.add(senderKey);
  }

  private async keyRequest(sender: string, content: Record<string, unknown>, attempts: number): Promise<void> {
    if (content.action === "request_cancellation") {
      this.keyRequests = this.keyRequests.filter(
        (r) => r.content.request_id !== content.request_id || r.content.requesting_device_id !== content.requesting_device_id,
      );
      return;
    }
    const outcome = await answerKeyRequest(this.ctx, sender, content, this.hooks.isTrusted, this.hooks.forwardTo);
    if (outcome.kind === "answer") return this.hooks.queue(outcome.requests);
    if (outcome.kind === "ignore" || attempts + 1 >= MAX_KEY_REQUEST_ATTEMPTS) return;
    if (outcome.kind === "wait-for-device") this.ctx.devices.markOutdated(this.ctx.userId);
    if (outcome.kind === "need-olm-session") this.needSession.set(outcome.device.curve25519, outcome.device);
    this.keyRequests.push({ sender, content, attempts: attempts + 1 });
  }

  private async retryKeyRequests(): Promise<void> {
    const waiting = this.keyRequests;
    this.keyRequests = [];
    for (const r of waiting) await this.guard(() => this.keyRequest(r.sender, r.content, r.attempts), r.content);
  }

  private async guard(fn: () => Promise<unknown>, subject: unknown): Promise<void> {
    try {
      await fn();
    } catch (e) {
      if (!(e instanceof Error) || !("code" in e)) throw e;
      this.hooks.report(e as CryptoError, subject);
    }
  }
}
