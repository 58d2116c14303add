/**
 * The I/O half of cross-signing (src/crypto/cross-signing.ts computes; docs/ENCRYPTION.md "Cross-signing"):
 *
 * bootstrap: keys/query for our own user, then
 *   - the account has no master key: ours are made (sealed in the store first), POST
 *     keys/device_signing/upload (user-interactive auth below), then this device signed by the
 *     self-signing key, POST keys/signatures/upload;
 *   - the account has our master key: this device is signed if the server's copy lacks the signature;
 *   - another client made them: never overwritten. With a recovery key, the private keys come from
 *     secret storage (m.cross_signing.*), checked against the published ones, and this device is signed;
 *     else the status says "foreign". A recovery key is checked against secret storage first (nothing
 *     is uploaded with a wrong one); new keys made with one given are also stored there.
 * User-interactive auth (https://spec.matrix.org/v1.19/client-server-api/#user-interactive-authentication-api):
 * the first upload goes without `auth` (servers implementing MSC3967, Synapse among them, let the first
 * cross-signing keys of an account through); a 401 with a UIA session is answered with m.login.password
 * (identifier m.id.user) when a password is configured, else CrossSigningAuthError names what is needed.
 * signDevice: another device of ours, signed by our self-signing key: from then on it is trusted with room keys.
 * The password and private keys are never logged or traced (the trace redacts `password`).
 */
import { decodeRecoveryKey, encryptSecret, SECRET, type CryptoMachine, type CrossSigningPublicKeys } from "../crypto/index.js";
import { putAccountData } from "../http/endpoints/account/account-data.js";
import type { CrossSigningSecrets as MachineSecrets } from "../crypto/cross-signing.js";
import type { HttpClient } from "../http/client.js";
import { deviceSigningUpload, signaturesUpload } from "../http/endpoints/keys/cross-signing.js";
import { queryKeys } from "../http/endpoints/keys/query-keys.js";
import { isMatrixError } from "../http/errors.js";
import { uiaFromError } from "../http/register-flow.js";
import { CrossSigningAuthError, CrossSigningUploadError } from "./errors.js";
import { openSecretStorage, readCrossSigningSecrets, type CrossSigningSecrets } from "./key-backup.js";

export interface CrossSigningStatus {
  /**
   * "ours": this device holds the private keys of the account's published master key;
   * "none": the account has no cross-signing keys yet;
   * "foreign": another client made them and this device does not hold them (restore them with the recovery key).
   */
  state: "ours" | "none" | "foreign";
  /** The account's published master key (public). */
  masterKey?: string;
  /** This device's keys on the server carry a valid signature by the account's self-signing key. */
  deviceSigned: boolean;
  /** Our other devices and whether our identity cross-signs each (what the default forwarding policy trusts). */
  devices: { deviceId: string; crossSigned: boolean }[];
}

export type BootstrapAction = "created" | "signed" | "unchanged" | "restored" | "foreign";

interface OwnKeys {
  raw: Record<string, unknown>;
  published?: Partial<CrossSigningPublicKeys> & { master: string };
  device?: Record<string, unknown>;
}

const keyOf = (obj: unknown): string | undefined => Object.values(((obj as { keys?: Record<string, string> } | undefined)?.keys ?? {}) as Record<string, string>)[0];

const toMachine = (s: CrossSigningSecrets): MachineSecrets => ({ master: s.master, self_signing: s.selfSigning, user_signing: s.userSigning });

export class CrossSigningSetup {
  private ensuring: Promise<void> | undefined;

  constructor(
    private readonly machine: CryptoMachine,
    private readonly http: HttpClient,
    private readonly userId: string,
    private readonly deviceId: string,
    private readonly password: string | undefined,
    /** Sends what the machine queued (our device keys, its keys/query of our devices): ValueEncryption's CryptoDriver. */
    private readonly sendQueued: () => Promise<void> = async () => {},
  ) {}

  /** On first encrypted use: bootstrap unless this device already published its keys (runs once per open). */
  ensure(): Promise<void> {
    this.ensuring ??= (async () => {
      if ((await this.machine.crossSigning.published()) !== undefined) return;
      await this.bootstrap();
    })();
    return this.ensuring;
  }

  async bootstrap(options: { recoveryKey?: string } = {}): Promise<CrossSigningStatus & { action: BootstrapAction }> {
    const recoveryKey = options.recoveryKey !== undefined ? decodeRecoveryKey(options.recoveryKey) : undefined; // a bad key fails before anything is sent
    try {
      // A wrong recovery key (or no secret storage) fails here, before anything is uploaded.
      const storage = recoveryKey ? await openSecretStorage(this.http, this.userId, recoveryKey) : undefined;
      // Our device keys must be on the server before a signature of them can be (a layer opened just now).
      await this.sendQueued();
      const server = await this.ownKeys();
      const ours = await this.machine.crossSigning.publicKeys();
      let action: BootstrapAction;
      if (!server.published) {
        const { deviceSigningUpload: keys, signaturesUpload: body, publicKeys } = await this.machine.crossSigning.bootstrap();
        await this.uploadWithAuth(keys);
        await this.uploadSignatures(body);
        await this.machine.crossSigning.markPublished(publicKeys.master);
        // With the recovery key, the new private keys join the existing secret storage.
        if (storage && recoveryKey) await this.storeSecrets(recoveryKey, storage.keyId);
        action = "created";
      } else if (ours?.master === server.published.master) {
        action = this.signedBySsk(server) ? "unchanged" : "signed";
        if (action === "signed") await this.uploadSignatures(await this.machine.crossSigning.signOwnDevice(this.deviceId, server.device));
        await this.machine.crossSigning.markPublished(ours.master);
      } else if (storage) {
        const secrets = await readCrossSigningSecrets(storage);
        if (!secrets) throw new CrossSigningUploadError("secret storage does not hold the account's cross-signing keys (m.cross_signing.*): they were made by a client that did not store them");
        await this.adopt(secrets, server);
        action = "restored";
      } else action = "foreign";
      return { ...(await this.status()), action };
    } finally {
      recoveryKey?.fill(0);
    }
  }

  /** Keys restored from secret storage with Memory.open({recoveryKey}): kept if they are the account's published ones. */
  async adoptRestored(secrets: CrossSigningSecrets): Promise<void> {
    const server = await this.ownKeys();
    if (server.published && (await this.machine.crossSigning.publicKeys())?.master !== server.published.master) await this.adopt(secrets, server);
  }

  async status(): Promise<CrossSigningStatus> {
    const server = await this.ownKeys();
    const ours = await this.machine.crossSigning.publicKeys();
    const state = !server.published ? "none" : ours?.master === server.published.master ? "ours" : "foreign";
    return {
      state,
      ...(server.published ? { masterKey: server.published.master } : {}),
      deviceSigned: this.signedBySsk(server),
      devices: this.machine.devicesOf(this.userId).map((d) => ({ deviceId: d.deviceId, crossSigned: d.crossSigned === true })),
    };
  }

  /** Sign another device of ours with our self-signing key; our devices are re-queried before this resolves. */
  async signDevice(deviceId: string): Promise<void> {
    const server = await this.ownKeys(deviceId);
    if (!server.device) throw new CrossSigningUploadError(`the homeserver has no device ${deviceId} for ${this.userId}`);
    await this.uploadSignatures(await this.machine.crossSigning.signOwnDevice(deviceId, server.device));
    await this.machine.crossSigning.refreshOwnDevices();
    await this.sendQueued();
  }

  private async storeSecrets(key: Uint8Array, keyId: string): Promise<void> {
    const s = (await this.machine.crossSigning.secrets())!;
    for (const [name, secret] of [[SECRET.master, s.master], [SECRET.selfSigning, s.self_signing], [SECRET.userSigning, s.user_signing]] as const) {
      await this.http.send(putAccountData, { userId: this.userId, type: name, content: { encrypted: { [keyId]: { ...(await encryptSecret(key, name, secret)) } } } });
    }
  }

  private async adopt(secrets: CrossSigningSecrets, server: OwnKeys): Promise<void> {
    const body = await this.machine.crossSigning.importSecrets(toMachine(secrets), server.published!);
    await this.uploadSignatures(body);
    await this.machine.crossSigning.markPublished(server.published!.master);
  }

  /** keys/query for our user as the server sent it (signatures are checked over the exact objects). */
  private async ownKeys(deviceId = this.deviceId): Promise<OwnKeys> {
    const raw = JSON.parse((await this.http.call(queryKeys, { deviceKeys: { [this.userId]: [] } })).raw) as Record<string, Record<string, unknown> | undefined>;
    const master = keyOf(raw.master_keys?.[this.userId]);
    const selfSigning = keyOf(raw.self_signing_keys?.[this.userId]);
    const userSigning = keyOf(raw.user_signing_keys?.[this.userId]);
    const device = (raw.device_keys?.[this.userId] as Record<string, Record<string, unknown>> | undefined)?.[deviceId];
    return {
      raw,
      ...(master ? { published: { master, ...(selfSigning ? { self_signing: selfSigning } : {}), ...(userSigning ? { user_signing: userSigning } : {}) } } : {}),
      ...(device ? { device } : {}),
    };
  }

  /** Whether this device's keys on the server carry a signature by the published self-signing key (its validity is the machine's check). */
  private signedBySsk(server: OwnKeys): boolean {
    const ssk = server.published?.self_signing;
    const sigs = (server.device?.signatures ?? {}) as Record<string, Record<string, string>>;
    return ssk !== undefined && typeof sigs[this.userId]?.[`ed25519:${ssk}`] === "string";
  }

  private async uploadWithAuth(keys: Record<string, unknown>): Promise<void> {
    try {
      await this.http.send(deviceSigningUpload, { keys });
      return;
    } catch (e) {
      const uia = uiaFromError(e);
      if (!uia) throw e;
      const errcode = isMatrixError(e) ? e.errcode : undefined;
      const flows = uia.flows.map((f) => f.stages);
      if (this.password === undefined) throw new CrossSigningAuthError(flows, errcode, "no password is configured: open with userId and password (or set MXDB_PASSWORD for the mxdb command)");
      if (!flows.some((f) => f.length === 1 && f[0] === "m.login.password")) throw new CrossSigningAuthError(flows, errcode, "the homeserver offers no m.login.password flow");
      try {
        await this.http.send(deviceSigningUpload, { keys, auth: { type: "m.login.password", identifier: { type: "m.id.user", user: this.userId }, password: this.password, ...(uia.session !== undefined ? { session: uia.session } : {}) } });
      } catch (e2) {
        const again = uiaFromError(e2);
        if (!again) throw e2;
        throw new CrossSigningAuthError(flows, isMatrixError(e2) ? e2.errcode : (again as { errcode?: string }).errcode, "the homeserver refused the password");
      }
    }
  }

  private async uploadSignatures(body: Record<string, unknown>): Promise<void> {
    const res = await this.http.send(signaturesUpload, body);
    const failures = Object.entries(res.failures ?? {}).flatMap(([user, byKey]) => Object.entries(byKey).map(([k, why]) => `${user}/${k}: ${JSON.stringify(why)}`));
    if (failures.length > 0) throw new CrossSigningUploadError(`the homeserver refused signatures: ${failures.join("; ")}`);
  }
}
