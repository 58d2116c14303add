/**
 * The I/O half of server-side key backup and secret storage (src/crypto/backup does the computing;
 * docs/ENCRYPTION.md "Recovery"):
 *   - create: a recovery key (or passphrase) -> secret storage key m.secret_storage.key.<id> with its
 *     check; a backup version (POST /room_keys/version, auth_data signed by this device); its private
 *     key as the secret m.megolm_backup.v1; then m.secret_storage.default_key (last, so a half-made setup
 *     is never the default);
 *   - unlock (Memory.open({recoveryKey}), before any sync or upload): GETs only; a wrong key fails
 *     with WrongRecoveryKeyError and nothing is written;
 *   - restore: every room key of the backup into this device's machine;
 *   - upload: room keys marked pending by the machine, 100 a PUT, marks cleared after the answer.
 * Account data: https://spec.matrix.org/v1.19/client-server-api/#client-config
 * Backups: https://spec.matrix.org/v1.19/client-server-api/#server-side-key-backups
 * The recovery key and private keys are never logged, traced or put in an error message.
 */
import {
  BACKUP_ALGORITHM,
  checkKey,
  decodeRecoveryKey,
  decryptSecret,
  DEFAULT_KEY_EVENT,
  describeKey,
  encodeRecoveryKey,
  encryptSecret,
  keyEventType,
  keyFromPassphrase,
  newPassphraseInfo,
  RecoverySetupError,
  SECRET,
  type CryptoBackend,
  type CryptoMachine,
  type EncryptedSecret,
  type ImportResult,
  type KeyDescription,
} from "../crypto/index.js";
import { fromBase64, randomBytes, toBase64 } from "../crypto/bytes.js";
import type { HttpClient } from "../http/client.js";
import { getAccountData, putAccountData } from "../http/endpoints/account/account-data.js";
import { getRoomKeys, putRoomKeys } from "../http/endpoints/room-keys/keys.js";
import { createBackupVersion, getBackupVersion } from "../http/endpoints/room-keys/version.js";
import { isMatrixError } from "../http/errors.js";

/** What a correct recovery key opened: held in memory only until the restore is done. */
export interface UnlockedRecovery {
  keyId: string;
  backupPrivateKey: Uint8Array;
  version: string;
  publicKey: string;
  /** The cross-signing private keys, when secret storage holds all three (m.cross_signing.*). */
  crossSigning?: CrossSigningSecrets;
}

/**
 * The cross-signing private keys (unpadded base64 seeds), kept in secret storage next to the backup
 * key (./cross-signing-setup.ts hands them over).
 */
export interface CrossSigningSecrets {
  master: string;
  selfSigning: string;
  userSigning: string;
}
export type CrossSigningSecretsHook = () => Promise<CrossSigningSecrets | undefined>;

export interface RecoveryStatus {
  /** m.secret_storage.default_key's key id, if secret storage is set up. */
  secretStorageKeyId?: string;
  /** The server's current backup. */
  serverBackup?: { version: string; algorithm: string; count: number };
  /** The backup this device uploads to, and how many of its room keys wait to go. */
  deviceBackup?: { version: string; pending: number; hasPrivateKey: boolean };
  /** The last restore on this device since open. */
  lastRestore?: { version: string; imported: number; kept: number; failed: number };
}

const notFound = (e: unknown) => isMatrixError(e) && e.status === 404;

async function accountData<T>(http: HttpClient, userId: string, type: string): Promise<T | undefined> {
  try {
    return (await http.send(getAccountData, { userId, type })) as T;
  } catch (e) {
    if (notFound(e)) return undefined;
    throw e;
  }
}

async function currentBackup(http: HttpClient) {
  try {
    return await http.send(getBackupVersion, undefined);
  } catch (e) {
    if (notFound(e)) return undefined;
    throw e;
  }
}

/** Secret storage opened with a checked key (GETs only): `read` decrypts one secret, undefined when absent. */
export interface OpenedSecretStorage {
  keyId: string;
  read(name: string): Promise<string | undefined>;
}

/** The account's default secret storage key, checked against `key` (WrongRecoveryKeyError); the caller zeroes `key` after use. */
export async function openSecretStorage(http: HttpClient, userId: string, key: Uint8Array): Promise<OpenedSecretStorage> {
  const def = await accountData<{ key?: unknown }>(http, userId, DEFAULT_KEY_EVENT);
  if (typeof def?.key !== "string") throw new RecoverySetupError("this account has no secret storage (m.secret_storage.default_key): create a recovery key first");
  const keyId = def.key;
  const description = await accountData<KeyDescription>(http, userId, keyEventType(keyId));
  if (!description) throw new RecoverySetupError(`secret storage key ${keyId} is missing from account data`);
  await checkKey(keyId, key, description);
  return {
    keyId,
    read: async (name) => {
      const encrypted = (await accountData<{ encrypted?: Record<string, EncryptedSecret> }>(http, userId, name))?.encrypted?.[keyId];
      return encrypted ? (await decryptSecret(key, name, encrypted)).trim() : undefined;
    },
  };
}

/** The three cross-signing private keys from opened secret storage, or undefined unless all three are there. */
export async function readCrossSigningSecrets(storage: OpenedSecretStorage): Promise<CrossSigningSecrets | undefined> {
  const [master, selfSigning, userSigning] = await Promise.all([storage.read(SECRET.master), storage.read(SECRET.selfSigning), storage.read(SECRET.userSigning)]);
  return master && selfSigning && userSigning ? { master, selfSigning, userSigning } : undefined;
}

/** Steps of Memory.open({recoveryKey}) before the sync starts. Sends only GETs. */
export async function unlockRecovery(http: HttpClient, backend: CryptoBackend, userId: string, recoveryKey: string): Promise<UnlockedRecovery> {
  const key = decodeRecoveryKey(recoveryKey);
  try {
    const storage = await openSecretStorage(http, userId, key);
    const keyId = storage.keyId;
    const backupSecret = await storage.read(SECRET.backup);
    if (backupSecret === undefined) throw new RecoverySetupError(`the key backup's private key (${SECRET.backup}) is not in secret storage under key ${keyId}`);
    const backupPrivateKey = fromBase64(backupSecret);
    const backup = await currentBackup(http);
    if (!backup) throw new RecoverySetupError("the homeserver has no key backup (room_keys/version)");
    if (backup.algorithm !== BACKUP_ALGORITHM) throw new RecoverySetupError(`the key backup uses ${backup.algorithm}, not ${BACKUP_ALGORITHM}`);
    const publicKey = backup.auth_data.public_key;
    if (typeof publicKey !== "string" || backend.pkPublicKey(backupPrivateKey) !== publicKey) {
      throw new RecoverySetupError(`key backup version ${backup.version} was not made with the private key in secret storage`);
    }
    const crossSigning = await readCrossSigningSecrets(storage);
    return { keyId, backupPrivateKey, version: backup.version, publicKey, ...(crossSigning ? { crossSigning } : {}) };
  } finally {
    key.fill(0);
  }
}

/** The crypto layer's backup: creating, restoring, uploading. */
export class KeyBackup {
  private uploading: Promise<void> | undefined;
  private again = false;
  private lastRestore: RecoveryStatus["lastRestore"];

  constructor(
    private readonly machine: CryptoMachine,
    private readonly http: HttpClient,
    private readonly userId: string,
    private readonly onError: (e: unknown) => void,
    private readonly crossSigningSecrets: CrossSigningSecretsHook = async () => undefined,
  ) {}

  /** A new recovery key (returned once, as text), secret storage, and a new backup holding every room key we have. */
  async create(options: { passphrase?: string } = {}): Promise<string> {
    const passphrase = options.passphrase !== undefined ? newPassphraseInfo() : undefined;
    const key = passphrase ? await keyFromPassphrase(options.passphrase!, passphrase) : randomBytes(32);
    const backup = this.machine.backup.newBackupKey();
    try {
      const keyId = toBase64(randomBytes(24), { url: true });
      const description = await describeKey(key, { ...(passphrase ? { passphrase } : {}), name: "mxdb recovery key" });
      const { version } = await this.http.send(createBackupVersion, { algorithm: BACKUP_ALGORITHM, authData: backup.authData });
      const secrets: Record<string, string> = { [SECRET.backup]: toBase64(backup.privateKey, { pad: false }) };
      const cross = await this.crossSigningSecrets();
      if (cross) Object.assign(secrets, { [SECRET.master]: cross.master, [SECRET.selfSigning]: cross.selfSigning, [SECRET.userSigning]: cross.userSigning });
      await this.http.send(putAccountData, { userId: this.userId, type: keyEventType(keyId), content: { ...description } });
      for (const [name, secret] of Object.entries(secrets)) {
        const content = { encrypted: { [keyId]: { ...(await encryptSecret(key, name, secret)) } } };
        await this.http.send(putAccountData, { userId: this.userId, type: name, content });
      }
      await this.http.send(putAccountData, { userId: this.userId, type: DEFAULT_KEY_EVENT, content: { key: keyId } });
      await this.machine.backup.enable(version, backup.publicKey, backup.privateKey);
      await this.upload();
      return encodeRecoveryKey(key);
    } finally {
      key.fill(0);
      backup.privateKey.fill(0);
    }
  }

  /** Import every room key of the unlocked backup, and upload to it from now on. */
  async restore(unlocked: UnlockedRecovery): Promise<ImportResult> {
    try {
      await this.machine.backup.enable(unlocked.version, unlocked.publicKey, unlocked.backupPrivateKey);
      const body = await this.http.send(getRoomKeys, { version: unlocked.version });
      const result = await this.machine.backup.importBackup(unlocked.backupPrivateKey, body);
      result.failed.forEach((e) => this.onError(e));
      this.lastRestore = { version: unlocked.version, imported: result.imported, kept: result.kept, failed: result.failed.length };
      return result;
    } finally {
      unlocked.backupPrivateKey.fill(0);
    }
  }

  async status(): Promise<RecoveryStatus> {
    const def = await accountData<{ key?: unknown }>(this.http, this.userId, DEFAULT_KEY_EVENT);
    const server = await currentBackup(this.http);
    const device = await this.machine.backup.status();
    return {
      ...(typeof def?.key === "string" ? { secretStorageKeyId: def.key } : {}),
      ...(server ? { serverBackup: { version: server.version, algorithm: server.algorithm, count: server.count } } : {}),
      ...(device ? { deviceBackup: { version: device.version, pending: device.pending, hasPrivateKey: device.hasPrivateKey } } : {}),
      ...(this.lastRestore ? { lastRestore: this.lastRestore } : {}),
    };
  }

  /**
   * Send every pending room key (one run at a time; a call during a run waits for one more run).
   * Never rejects: failures go to onError and the marks stay for the next run (and the next process).
   */
  upload(): Promise<void> {
    if (this.uploading) {
      this.again = true;
      return this.uploading.then(() => this.upload());
    }
    this.uploading = this.uploadAll()
      .catch((e: unknown) => this.onError(e))
      .finally(() => {
        this.uploading = undefined;
      });
    return this.uploading;
  }

  private async uploadAll(): Promise<void> {
    do {
      this.again = false;
      for (let batch = await this.machine.backup.nextBatch(); batch; batch = await this.machine.backup.nextBatch()) {
        try {
          await this.http.send(putRoomKeys, { version: batch.version, body: batch.body });
        } catch (e) {
          // Another client replaced the backup: its key is not ours, so stop uploading (status shows it).
          if (isMatrixError(e) && e.errcode === "M_WRONG_ROOM_KEYS_VERSION") await this.machine.backup.disable();
          throw e;
        }
        await this.machine.backup.markBackedUp(batch);
      }
    } while (this.again);
  }
}
