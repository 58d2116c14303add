/**
 * A tiny in-process stand-in for a homeserver's E2EE endpoints, for wiring CryptoMachines together in
 * unit tests (no network): keys/upload, keys/query, keys/claim, sendToDevice, and the crypto parts of
 * /sync. It behaves like Synapse where that matters to the machine:
 *   - an OTK id re-uploaded with different key material is refused (synapse/handlers/e2e_keys.py);
 *   - keys/claim hands out a one-time key, or the fallback key when none are left;
 *   - a new device (first device_keys upload) puts its user in every other device's device_lists.changed;
 *   - sendToDevice with the same txnId from the same device is delivered once.
 */
import type { KeyValueStore } from "../../src/crypto/store.js";
import type { CryptoMachine, SyncChanges } from "../../src/crypto/machine.js";
import type { OutgoingRequest } from "../../src/crypto/requests.js";

type Obj = Record<string, unknown>;
const dk = (u: string, d: string) => `${u}|${d}`;

export class MemoryKV implements KeyValueStore {
  readonly data = new Map<string, string>();
  async get(key: string) {
    return this.data.get(key);
  }
  async setMany(entries: Record<string, string | undefined>) {
    for (const [k, v] of Object.entries(entries)) v === undefined ? this.data.delete(k) : this.data.set(k, v);
  }
  async keys(prefix = "") {
    return [...this.data.keys()].filter((k) => k.startsWith(prefix));
  }
}

export class FakeKeyServer {
  /** user -> device -> signed DeviceKeys, as uploaded (tests may tamper with them). */
  readonly deviceKeys = new Map<string, Map<string, Obj>>();
  /** "user|device" -> key id -> signed one-time key object (tests may tamper with them). */
  readonly otks = new Map<string, Map<string, Obj>>();
  private readonly fallback = new Map<string, { id: string; obj: Obj; used: boolean }>();
  private readonly inbox = new Map<string, Obj[]>();
  private readonly changed = new Map<string, Set<string>>();
  private readonly txns = new Set<string>();
  /** user -> the keys/device_signing/upload body (master_key, self_signing_key, user_signing_key). */
  readonly crossSigning = new Map<string, Obj>();
  /** Every to-device event delivered, for assertions. */
  readonly delivered: { to: string; type: string; sender: string; content: Obj }[] = [];

  /** Answer one request as `userId`/`deviceId` would get it from the server. */
  handle(userId: string, deviceId: string, req: OutgoingRequest): Obj {
    switch (req.kind) {
      case "keys_upload":
        return this.upload(userId, deviceId, req.body);
      case "keys_query": {
        const device_keys: Record<string, Obj> = {};
        for (const u of Object.keys(req.body.device_keys)) {
          device_keys[u] = Object.fromEntries(structuredClone([...(this.deviceKeys.get(u) ?? new Map()).entries()]));
        }
        const users = Object.keys(req.body.device_keys).filter((u) => this.crossSigning.has(u));
        const keysOf = (field: string) => Object.fromEntries(users.map((u) => [u, structuredClone(this.crossSigning.get(u)![field])]));
        return { device_keys, failures: {}, ...(users.length > 0 ? { master_keys: keysOf("master_key"), self_signing_keys: keysOf("self_signing_key") } : {}) };
      }
      case "keys_claim": {
        const one_time_keys: Record<string, Record<string, Obj>> = {};
        for (const [u, devs] of Object.entries(req.body.one_time_keys)) {
          for (const d of Object.keys(devs)) {
            const key = this.claimOne(u, d);
            if (key) (one_time_keys[u] ??= {})[d] = key;
          }
        }
        return { one_time_keys, failures: {} };
      }
      case "to_device": {
        const txn = `${dk(userId, deviceId)}|${req.txnId}`;
        if (this.txns.has(txn)) return {};
        this.txns.add(txn);
        for (const [u, devs] of Object.entries(req.body.messages)) {
          for (const [d, content] of Object.entries(devs)) {
            const targets = d === "*" ? [...(this.deviceKeys.get(u)?.keys() ?? [])].filter((x) => !(u === userId && x === deviceId)) : [d];
            for (const t of targets) this.deliver(u, t, { type: req.eventType, sender: userId, content: content as Obj });
          }
        }
        return {};
      }
    }
  }

  /** Put a raw to-device event in a device's inbox (for forged/unencrypted events in tests). */
  deliver(userId: string, deviceId: string, event: { type: string; sender: string; content: Obj }): void {
    const list = this.inbox.get(dk(userId, deviceId)) ?? [];
    list.push(structuredClone(event));
    this.inbox.set(dk(userId, deviceId), list);
    this.delivered.push({ to: dk(userId, deviceId), ...event });
  }

  /** The crypto-relevant part of a /sync response for this device; drains its inbox. */
  sync(userId: string, deviceId: string): SyncChanges {
    const key = dk(userId, deviceId);
    const toDevice = this.inbox.get(key) ?? [];
    this.inbox.delete(key);
    const changed = [...(this.changed.get(key) ?? [])];
    this.changed.delete(key);
    const fb = this.fallback.get(key);
    return {
      toDevice,
      changedDevices: { changed, left: [] },
      oneTimeKeyCounts: { signed_curve25519: this.otks.get(key)?.size ?? 0 },
      unusedFallbackKeyTypes: fb && !fb.used ? ["signed_curve25519"] : [],
    };
  }

  hasMail(userId: string, deviceId: string): boolean {
    return (this.inbox.get(dk(userId, deviceId))?.length ?? 0) > 0 || (this.changed.get(dk(userId, deviceId))?.size ?? 0) > 0;
  }

  otkCount(userId: string, deviceId: string): number {
    return this.otks.get(dk(userId, deviceId))?.size ?? 0;
  }

  private upload(userId: string, deviceId: string, body: Obj): Obj {
    const key = dk(userId, deviceId);
    if (body.device_keys) {
      const devs = this.deviceKeys.get(userId) ?? new Map<string, Obj>();
      const isNew = !devs.has(deviceId);
      devs.set(deviceId, structuredClone(body.device_keys as Obj));
      this.deviceKeys.set(userId, devs);
      if (isNew) this.announce(userId, deviceId);
    }
    const mine = this.otks.get(key) ?? new Map<string, Obj>();
    for (const [id, obj] of Object.entries((body.one_time_keys ?? {}) as Record<string, Obj>)) {
      const prev = mine.get(id);
      if (prev && JSON.stringify(prev.key) !== JSON.stringify(obj.key)) {
        throw new Error(`400 M_INVALID_PARAM: One time key ${id} already exists`);
      }
      mine.set(id, obj);
    }
    this.otks.set(key, mine);
    for (const [id, obj] of Object.entries((body.fallback_keys ?? {}) as Record<string, Obj>)) {
      this.fallback.set(key, { id, obj, used: false });
    }
    return { one_time_key_counts: { signed_curve25519: mine.size } };
  }

  private claimOne(userId: string, deviceId: string): Obj | undefined {
    const key = dk(userId, deviceId);
    const mine = this.otks.get(key);
    const first = mine ? [...mine.entries()][0] : undefined;
    if (first) {
      mine!.delete(first[0]);
      return { [first[0]]: first[1] };
    }
    const fb = this.fallback.get(key);
    if (!fb) return undefined;
    fb.used = true;
    return { [fb.id]: fb.obj };
  }

  /** keys/device_signing/upload: the user's cross-signing keys; everyone re-queries them. */
  publishCrossSigning(userId: string, body: Obj): void {
    this.crossSigning.set(userId, structuredClone(body));
    this.announce(userId);
  }

  /** keys/signatures/upload: each signature merged into the stored device keys; everyone re-queries. */
  addSignatures(body: Obj): void {
    for (const [u, byDevice] of Object.entries(body as Record<string, Record<string, Obj>>)) {
      for (const [d, signed] of Object.entries(byDevice)) {
        const stored = this.deviceKeys.get(u)?.get(d);
        if (!stored) continue;
        const sigs = structuredClone((stored.signatures ?? {}) as Record<string, Record<string, string>>);
        for (const [signer, byKey] of Object.entries((signed.signatures ?? {}) as Record<string, Record<string, string>>)) sigs[signer] = { ...(sigs[signer] ?? {}), ...byKey };
        stored.signatures = sigs;
      }
      this.announce(u);
    }
  }

  /** Tell every other known device that `userId`'s device list changed. */
  announce(userId: string, exceptDevice?: string): void {
    for (const [u, devs] of this.deviceKeys) {
      for (const d of devs.keys()) {
        if (u === userId && d === exceptDevice) continue;
        const set = this.changed.get(dk(u, d)) ?? new Set<string>();
        set.add(userId);
        this.changed.set(dk(u, d), set);
      }
    }
  }
}

export interface Client {
  userId: string;
  deviceId: string;
  machine: CryptoMachine;
}

/** Send every outgoing request of `c` through the server and mark it sent. */
export async function flushRequests(server: FakeKeyServer, c: Client, extra: OutgoingRequest[] = []): Promise<number> {
  const reqs = [...extra, ...c.machine.outgoingRequests()];
  for (const r of reqs) await c.machine.markRequestAsSent(r.id, server.handle(c.userId, c.deviceId, r));
  return reqs.length;
}

/** Run requests and syncs for all clients until nothing moves (bounded). */
export async function settle(server: FakeKeyServer, clients: Client[], maxRounds = 20): Promise<void> {
  for (let round = 0; round < maxRounds; round++) {
    let moved = 0;
    for (const c of clients) {
      moved += await flushRequests(server, c);
      if (server.hasMail(c.userId, c.deviceId)) {
        await c.machine.receiveSyncChanges(server.sync(c.userId, c.deviceId));
        moved++;
      }
    }
    if (moved === 0) return;
  }
  throw new Error("fake server did not settle");
}

/** The rust-sdk flow for one room: track, query, claim missing sessions, share the key, deliver. */
export async function prepareRoom(server: FakeKeyServer, sender: Client, roomId: string, members: string[], all: Client[], settings = {}) {
  sender.machine.updateTrackedUsers(members);
  await settle(server, all);
  const claim = sender.machine.getMissingSessions(members);
  if (claim) await sender.machine.markRequestAsSent(claim.id, server.handle(sender.userId, sender.deviceId, claim));
  const share = await sender.machine.shareRoomKey(roomId, members, settings);
  await flushRequests(server, sender, share);
  await settle(server, all);
  return share;
}
