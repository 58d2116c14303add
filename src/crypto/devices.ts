/**
 * Device-list tracking and device-key verification.
 * https://spec.matrix.org/v1.19/client-server-api/#tracking-the-device-list-for-a-user
 * https://spec.matrix.org/v1.19/appendices/#checking-for-a-signature
 *
 *   1. track(users): persist "tracked + outdated" for each new user;
 *   2. device_lists.changed marks tracked users outdated (a generation counter guards the race the
 *      spec warns about: a change seen while a query is in flight keeps the user outdated);
 *   3. one keys/query in flight per user; the response replaces the user's device list after checks:
 *      a. the map keys equal the object's user_id/device_id          -> DeviceIdMismatchError
 *      b. the device signed its own keys with its ed25519 key        -> BadSignatureError
 *      c. a device's ed25519 key never changes once pinned           -> DeviceKeyChangedError
 *      d. the curve25519 and ed25519 keys are present                -> IncompleteDeviceKeysError
 *      Refused devices are left out (or keep their old, pinned entry) and reported.
 *   4. the user's cross-signing keys are checked (cross-signing-verify.ts) and each device records
 *      whether the user's self-signing key signed it (`crossSigned`).
 */
import type { CryptoBackend } from "./backend.js";
import { hasValidSignature } from "./canonical-json.js";
import {
  BadSignatureError,
  type CryptoError,
  DeviceIdMismatchError,
  DeviceKeyChangedError,
  IncompleteDeviceKeysError,
} from "./errors.js";
import type { SealedStore } from "./store.js";
import { isCrossSigned, verifyIdentity } from "./cross-signing-verify.js";

export { hasValidSignature } from "./canonical-json.js";

export interface DeviceRecord {
  userId: string;
  deviceId: string;
  curve25519: string;
  ed25519: string;
  algorithms: string[];
  /** Signed by its owner's self-signing key, itself signed by the owner's trusted master key (cross-signing-verify.ts). */
  crossSigned?: boolean;
}

interface UserDevices {
  devices: Record<string, DeviceRecord>;
  /** deviceId -> ed25519, kept even after the device disappears, so it cannot come back with another key. */
  pins: Record<string, string>;
  /** The user's trusted master key (pinned on first sight; ours: the one we hold) and its self-signing key. */
  master?: string;
  selfSigning?: string;
}

interface TrackState {
  outdated: boolean;
  generation: number;
}

const TRACKED = "tracked";
const devicesName = (userId: string) => `devices/${userId}`;

/** Steps a–d for one keys/query entry; returns the record or the error that refused it. */
export function checkDeviceKeys(
  backend: CryptoBackend,
  userId: string,
  deviceId: string,
  raw: unknown,
  pinned: string | undefined,
): DeviceRecord | CryptoError {
  const obj = (raw ?? {}) as Record<string, unknown>;
  if (obj.user_id !== userId || obj.device_id !== deviceId) {
    return new DeviceIdMismatchError(userId, deviceId, `${String(obj.user_id)}/${String(obj.device_id)}`);
  }
  const keys = (obj.keys ?? {}) as Record<string, unknown>;
  const curve25519 = keys[`curve25519:${deviceId}`];
  const ed25519 = keys[`ed25519:${deviceId}`];
  if (typeof curve25519 !== "string" || typeof ed25519 !== "string") return new IncompleteDeviceKeysError(userId, deviceId);
  if (!hasValidSignature(backend, obj, userId, `ed25519:${deviceId}`, ed25519)) {
    return new BadSignatureError(userId, deviceId, "device keys");
  }
  if (pinned !== undefined && pinned !== ed25519) return new DeviceKeyChangedError(userId, deviceId);
  const algorithms = Array.isArray(obj.algorithms) ? obj.algorithms.filter((a): a is string => typeof a === "string") : [];
  return { userId, deviceId, curve25519, ed25519, algorithms };
}

export class DeviceBook {
  private tracked: Record<string, TrackState> = {};
  private readonly users = new Map<string, UserDevices>();
  private readonly inFlight = new Map<string, number>();

  constructor(
    private readonly store: SealedStore,
    private readonly backend: CryptoBackend,
    private readonly own: { userId: string; deviceId: string; ed25519?: string },
  ) {}

  async load(): Promise<void> {
    this.tracked = (await this.store.get<Record<string, TrackState>>(TRACKED)) ?? {};
    for (const userId of Object.keys(this.tracked)) {
      this.users.set(userId, (await this.store.get<UserDevices>(devicesName(userId))) ?? { devices: {}, pins: {} });
    }
    // Our own user is always tracked: our other devices get room keys and answer key requests.
    this.track([this.own.userId]);
  }

  isTracked(userId: string): boolean {
    return userId in this.tracked;
  }

  track(userIds: string[]): void {
    let changed = false;
    for (const u of userIds) {
      if (this.tracked[u]) continue;
      this.tracked[u] = { outdated: true, generation: 0 };
      if (!this.users.has(u)) this.users.set(u, { devices: {}, pins: {} });
      changed = true;
    }
    if (changed) this.store.set(TRACKED, this.tracked);
  }

  /** device_lists.changed: outdated again; device_lists.left: stop tracking (never our own user). */
  applySyncChanges(changed: string[], left: string[]): void {
    for (const u of changed) {
      const t = this.tracked[u];
      if (t) this.tracked[u] = { outdated: true, generation: t.generation + 1 };
    }
    for (const u of left) if (u !== this.own.userId) delete this.tracked[u];
    if (changed.length + left.length > 0) this.store.set(TRACKED, this.tracked);
  }

  markOutdated(userId: string): void {
    this.applySyncChanges([userId], []);
  }

  /** Users to put in the next keys/query: outdated and not already being queried. */
  usersToQuery(): string[] {
    return Object.entries(this.tracked)
      .filter(([u, t]) => t.outdated && !this.inFlight.has(u))
      .map(([u]) => u)
      .sort();
  }

  queryStarted(userIds: string[]): void {
    for (const u of userIds) this.inFlight.set(u, this.tracked[u]?.generation ?? 0);
  }

  /** Apply a keys/query response body for `userIds`; returns every refused device. */
  applyQueryResponse(userIds: string[], response: unknown): CryptoError[] {
    const problems: CryptoError[] = [];
    const all = ((response ?? {}) as { device_keys?: Record<string, Record<string, unknown>> }).device_keys ?? {};
    for (const userId of userIds) {
      const startGen = this.inFlight.get(userId);
      this.inFlight.delete(userId);
      const t = this.tracked[userId];
      if (!t) continue; // left while in flight
      const old = this.users.get(userId) ?? { devices: {}, pins: {} };
      // 4. The identity first: each device below is checked against its self-signing key.
      const isOwn = userId === this.own.userId;
      const cs = response as { master_keys?: Record<string, unknown>; self_signing_keys?: Record<string, unknown> };
      const id = verifyIdentity(this.backend, userId, cs.master_keys?.[userId], cs.self_signing_keys?.[userId], {
        ...(old.master !== undefined ? { pinned: old.master } : {}),
        pinOnFirstSight: !isOwn,
        ...(isOwn && this.own.ed25519 ? { ownDevice: { deviceId: this.own.deviceId, ed25519: this.own.ed25519 } } : {}),
      });
      problems.push(...id.problems);
      const next: UserDevices = { devices: {}, pins: { ...old.pins }, ...(id.pin !== undefined ? { master: id.pin } : {}), ...(id.identity?.selfSigning !== undefined ? { selfSigning: id.identity.selfSigning } : {}) };
      for (const [deviceId, raw] of Object.entries(all[userId] ?? {})) {
        if (userId === this.own.userId && deviceId === this.own.deviceId) continue;
        const res = checkDeviceKeys(this.backend, userId, deviceId, raw, old.pins[deviceId]);
        if (res instanceof Error) {
          problems.push(res);
          // A pinned device that now looks different keeps its old, verified entry.
          const prev = old.devices[deviceId];
          if (prev && res instanceof DeviceKeyChangedError) next.devices[deviceId] = prev;
          continue;
        }
        next.devices[deviceId] = { ...res, crossSigned: isCrossSigned(this.backend, userId, id.identity, raw) };
        next.pins[deviceId] = res.ed25519;
      }
      this.users.set(userId, next);
      this.store.set(devicesName(userId), next);
      if (t.generation === startGen) t.outdated = false;
    }
    this.store.set(TRACKED, this.tracked);
    return problems;
  }

  /**
   * Our own master key, now that this device holds its private half (made or restored): trusted from
   * now on, and our devices are re-queried so their cross-signatures are checked against it.
   */
  pinOwnMaster(master: string): void {
    const u = this.users.get(this.own.userId) ?? { devices: {}, pins: {} };
    if (u.master === master) return;
    const { selfSigning: _s, ...rest } = u;
    this.users.set(this.own.userId, { ...rest, master });
    this.store.set(devicesName(this.own.userId), this.users.get(this.own.userId));
    this.markOutdated(this.own.userId);
  }

  /** The user's trusted master and self-signing keys as last checked. */
  identityOf(userId: string): { master?: string; selfSigning?: string } {
    const u = this.users.get(userId);
    return { ...(u?.master !== undefined ? { master: u.master } : {}), ...(u?.selfSigning !== undefined ? { selfSigning: u.selfSigning } : {}) };
  }

  /** A failed keys/query: the users stay outdated and are queried again. */
  queryFailed(userIds: string[]): void {
    for (const u of userIds) this.inFlight.delete(u);
  }

  devicesOf(userId: string): DeviceRecord[] {
    return Object.values(this.users.get(userId)?.devices ?? {});
  }

  get(userId: string, deviceId: string): DeviceRecord | undefined {
    return this.users.get(userId)?.devices[deviceId];
  }

  byCurve(userId: string, curve25519: string): DeviceRecord | undefined {
    return this.devicesOf(userId).find((d) => d.curve25519 === curve25519);
  }

  /** Any known device with this identity key (forwarded keys name only the curve25519 key). */
  anyByCurve(curve25519: string): DeviceRecord | undefined {
    for (const u of this.users.values()) {
      const d = Object.values(u.devices).find((x) => x.curve25519 === curve25519);
      if (d) return d;
    }
    return undefined;
  }

  isOutdated(userId: string): boolean {
    return this.tracked[userId]?.outdated ?? true;
  }
}
