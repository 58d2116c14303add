/**
 * Our cross-signing keys (https://spec.matrix.org/v1.19/client-server-api/#cross-signing), sans-IO:
 * the master, self-signing and user-signing Ed25519 keys, their private seeds kept only in the sealed
 * store ("cross-signing/keys"), and the bodies that publish them and sign our device.
 *
 *   1. createCrossSigningKeys: three random 32-byte seeds, made once per account and persisted before
 *      anything is uploaded (a later upload must send the same public keys);
 *   2. deviceSigningUploadBody: POST /keys/device_signing/upload
 *      (https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3keysdevice_signingupload):
 *      master_key, and self_signing_key / user_signing_key each signed by the master key;
 *   3. deviceSignatureBody: POST /keys/signatures/upload
 *      (https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3keyssignaturesupload):
 *      our device keys signed by the self-signing key.
 * OwnCrossSigning (machine.crossSigning) runs these under the machine's lock; src/db/cross-signing-setup.ts
 * sends the bodies (user-interactive auth, bootstrap on first use, `mxdb crypto bootstrap`). Keys another
 * client made come in through importSecrets (from secret storage), checked against the published ones.
 * The seeds are never logged; secrets() hands them to secret storage (src/db/key-backup.ts).
 */
import { deviceKeys } from "./account.js";
import type { CryptoBackend } from "./backend.js";
import { fromBase64, toBase64 } from "./bytes.js";
import { signingPayload } from "./canonical-json.js";
import type { CryptoContext } from "./context.js";
import { checkDeviceKeys } from "./devices.js";
import { CrossSigningKeyMismatchError, DeviceNotSignableError } from "./errors.js";
import type { RandomBytes, SealedStore } from "./store.js";

/** Unpadded base64 private seeds, the form secret storage keeps them in (m.cross_signing.*). */
export interface CrossSigningSecrets {
  master: string;
  self_signing: string;
  user_signing: string;
}

export interface CrossSigningPublicKeys {
  master: string;
  self_signing: string;
  user_signing: string;
}

const RECORD = "cross-signing/keys";
const PUBLISHED = "cross-signing/published";
const USAGES = ["master", "self_signing", "user_signing"] as const;
type Usage = (typeof USAGES)[number];

export function loadCrossSigningSecrets(store: SealedStore): Promise<CrossSigningSecrets | undefined> {
  return store.get<CrossSigningSecrets>(RECORD);
}

/** Step 1: the existing keys, or new ones (stored; the caller flushes before uploading). */
export async function createCrossSigningKeys(store: SealedStore, random: RandomBytes): Promise<CrossSigningSecrets> {
  const existing = await loadCrossSigningSecrets(store);
  if (existing) return existing;
  const fresh: CrossSigningSecrets = { master: toBase64(random(32)), self_signing: toBase64(random(32)), user_signing: toBase64(random(32)) };
  store.set(RECORD, fresh);
  return fresh;
}

function withKey<R>(backend: CryptoBackend, seed: string, fn: (k: { publicKey: string; sign(m: string): string }) => R): R {
  const bytes = fromBase64(seed);
  const key = backend.signingKeyFromSeed(bytes);
  try {
    return fn(key);
  } finally {
    key.free();
    bytes.fill(0);
  }
}

export function crossSigningPublicKeys(backend: CryptoBackend, secrets: CrossSigningSecrets): CrossSigningPublicKeys {
  const out = {} as CrossSigningPublicKeys;
  for (const u of USAGES) out[u] = withKey(backend, secrets[u], (k) => k.publicKey);
  return out;
}

/** Adds `signer`'s signature of `obj` (signing JSON: without signatures/unsigned) under `userId`. */
function signed(backend: CryptoBackend, seed: string, userId: string, obj: Record<string, unknown>): Record<string, unknown> {
  return withKey(backend, seed, (k) => {
    const sig = k.sign(signingPayload(obj));
    const prior = (obj.signatures ?? {}) as Record<string, Record<string, string>>;
    return { ...obj, signatures: { ...prior, [userId]: { ...(prior[userId] ?? {}), [`ed25519:${k.publicKey}`]: sig } } };
  });
}

function keyObject(userId: string, usage: Usage, publicKey: string): Record<string, unknown> {
  return { user_id: userId, usage: [usage], keys: { [`ed25519:${publicKey}`]: publicKey } };
}

/** Step 2. */
export function deviceSigningUploadBody(backend: CryptoBackend, userId: string, secrets: CrossSigningSecrets): Record<string, unknown> {
  const pub = crossSigningPublicKeys(backend, secrets);
  return {
    master_key: keyObject(userId, "master", pub.master),
    self_signing_key: signed(backend, secrets.master, userId, keyObject(userId, "self_signing", pub.self_signing)),
    user_signing_key: signed(backend, secrets.master, userId, keyObject(userId, "user_signing", pub.user_signing)),
  };
}

/** Step 3: `deviceKeys` is our device's signed device_keys object as uploaded. */
export function deviceSignatureBody(backend: CryptoBackend, userId: string, deviceId: string, deviceKeys: Record<string, unknown>, secrets: CrossSigningSecrets): Record<string, unknown> {
  const { unsigned: _u, ...keys } = deviceKeys;
  return { [userId]: { [deviceId]: signed(backend, secrets.self_signing, userId, keys) } };
}

type Exclusive = <R>(fn: () => Promise<R>) => Promise<R>;

/** Our identity, under the machine's lock (machine.crossSigning). */
export class OwnCrossSigning {
  constructor(
    private readonly ctx: CryptoContext,
    private readonly exclusive: Exclusive,
  ) {}

  /**
   * The three keys (made once, persisted sealed; the caller's flush precedes any upload) and the two
   * bodies that publish them and sign this device. Our master key is trusted from now on.
   */
  bootstrap(): Promise<{ deviceSigningUpload: Record<string, unknown>; signaturesUpload: Record<string, unknown>; publicKeys: CrossSigningPublicKeys }> {
    return this.exclusive(async () => {
      const { ctx } = this;
      const secrets = await createCrossSigningKeys(ctx.store, ctx.random);
      const publicKeys = crossSigningPublicKeys(ctx.backend, secrets);
      ctx.devices.pinOwnMaster(publicKeys.master);
      return { deviceSigningUpload: deviceSigningUploadBody(ctx.backend, ctx.userId, secrets), signaturesUpload: this.ownDeviceSignature(secrets), publicKeys };
    });
  }

  /**
   * Keys another client made, read from secret storage: each private key must give the public key the
   * account published (`published`, from keys/query), else CrossSigningKeyMismatchError and nothing is
   * kept. Returns the body signing this device with the self-signing key.
   */
  importSecrets(secrets: CrossSigningSecrets, published: Partial<CrossSigningPublicKeys> & { master: string }): Promise<Record<string, unknown>> {
    return this.exclusive(async () => {
      const { ctx } = this;
      const derived = crossSigningPublicKeys(ctx.backend, secrets);
      for (const u of USAGES) {
        const expected = published[u];
        if (expected !== undefined && derived[u] !== expected) throw new CrossSigningKeyMismatchError(u);
      }
      if (published.self_signing === undefined) throw new CrossSigningKeyMismatchError("self_signing");
      ctx.store.set(RECORD, { ...secrets });
      ctx.devices.pinOwnMaster(derived.master);
      return this.ownDeviceSignature(secrets);
    });
  }

  /** The private seeds (unpadded base64), for secret storage; undefined before bootstrap. Never log them. */
  secrets(): Promise<CrossSigningSecrets | undefined> {
    return this.exclusive(() => loadCrossSigningSecrets(this.ctx.store));
  }

  publicKeys(): Promise<CrossSigningPublicKeys | undefined> {
    return this.exclusive(async () => {
      const secrets = await loadCrossSigningSecrets(this.ctx.store);
      return secrets && crossSigningPublicKeys(this.ctx.backend, secrets);
    });
  }

  /**
   * Sign another device of ours with the self-signing key (POST /keys/signatures/upload body). `raw` is
   * its device_keys object from a fresh keys/query; it must pass the keys/query checks and match the
   * device's pinned ed25519 key (the device was already known, i.e. seen by a keys/query of this machine).
   */
  signOwnDevice(deviceId: string, raw: unknown): Promise<Record<string, unknown>> {
    return this.exclusive(async () => {
      const { ctx } = this;
      const secrets = await loadCrossSigningSecrets(ctx.store);
      if (!secrets) throw new DeviceNotSignableError(ctx.userId, deviceId, "this device holds no self-signing key (bootstrap cross-signing first)");
      if (deviceId === ctx.deviceId) return this.ownDeviceSignature(secrets);
      const known = ctx.devices.get(ctx.userId, deviceId);
      if (!known) throw new DeviceNotSignableError(ctx.userId, deviceId, "not among our devices as last queried (keys/query)");
      const checked = checkDeviceKeys(ctx.backend, ctx.userId, deviceId, raw, known.ed25519);
      if (checked instanceof Error) throw new DeviceNotSignableError(ctx.userId, deviceId, checked.message);
      if (checked.curve25519 !== known.curve25519) throw new DeviceNotSignableError(ctx.userId, deviceId, "its curve25519 key changed");
      const { unsigned: _u, ...keys } = raw as Record<string, unknown>;
      return { [ctx.userId]: { [deviceId]: signed(ctx.backend, secrets.self_signing, ctx.userId, keys) } };
    });
  }

  /** The master key the server was last seen to publish as ours (set by the caller after its uploads). */
  published(): Promise<string | undefined> {
    return this.exclusive(async () => (await this.ctx.store.get<{ master: string }>(PUBLISHED))?.master);
  }

  markPublished(master: string): Promise<void> {
    return this.exclusive(async () => this.ctx.store.set(PUBLISHED, { master }));
  }

  /** Our devices are queried again (after a signature upload changed one of them). */
  refreshOwnDevices(): Promise<void> {
    return this.exclusive(async () => this.ctx.devices.markOutdated(this.ctx.userId));
  }

  private ownDeviceSignature(secrets: CrossSigningSecrets): Record<string, unknown> {
    const { ctx } = this;
    return deviceSignatureBody(ctx.backend, ctx.userId, ctx.deviceId, deviceKeys(ctx.account, ctx.ids, ctx.userId, ctx.deviceId), secrets);
  }
}
