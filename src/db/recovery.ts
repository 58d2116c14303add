/**
 * memory.recovery: the recovery key and the server-side key backup (docs/ENCRYPTION.md "Recovery").
 * A thin front: the work is in ./key-backup.ts, loaded with the crypto layer.
 */
import { RecoverySetupError } from "../crypto/backup/errors.js";
import type { KeyBackup, RecoveryStatus } from "./key-backup.js";
import type { ValueCrypto } from "./value-crypto.js";

export type { RecoveryStatus } from "./key-backup.js";

export class Recovery {
  constructor(private readonly layer: () => Promise<ValueCrypto | undefined>) {}

  /**
   * Make a recovery key: secret storage with a new key, a new key backup holding every room key this
   * device has, its private key in secret storage. Returns the key as text ("EsTc LW2K …"), once: mxdb
   * keeps no copy. With `passphrase`, the key derives from it (m.pbkdf2) and either opens the backup.
   */
  async create(options: { passphrase?: string } = {}): Promise<string> {
    return (await this.backup()).create(options);
  }

  /** Secret storage, the server's backup, this device's uploads and the last restore. */
  async status(): Promise<RecoveryStatus> {
    return (await this.backup()).status();
  }

  /** Upload the room keys still waiting (they also go after each sync and before a value uses a new one). */
  async upload(): Promise<void> {
    await (await this.backup()).upload();
  }

  private async backup(): Promise<KeyBackup> {
    const layer = await this.layer();
    if (layer && "backup" in layer) return layer.backup as KeyBackup;
    const reason = layer && "reason" in layer ? String(layer.reason) : "encryption is off (encryption: false)";
    throw new RecoverySetupError(`recovery needs the crypto layer, and ${reason}`);
  }
}
