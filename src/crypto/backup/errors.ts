/**
 * Errors of the recovery path (recovery key, secret storage, key backup). Kept apart from ../errors.ts,
 * whose classes are per Olm/Megolm check. Each carries a stable `code`.
 */
import { CryptoError } from "../errors.js";

/** The text is not a recovery key: bad characters, length, prefix or parity (nothing was sent). */
export class RecoveryKeyFormatError extends CryptoError {
  override readonly name = "RecoveryKeyFormatError";
  constructor(readonly problem: "characters" | "length" | "prefix" | "parity") {
    super("M_RECOVERY_KEY_FORMAT", `not a recovery key: wrong ${problem} (a recovery key is 48 base58 characters, shown in groups of 4)`);
  }
}

/** The recovery key (or passphrase) does not open this account's secret storage key. */
export class WrongRecoveryKeyError extends CryptoError {
  override readonly name = "WrongRecoveryKeyError";
  constructor(readonly keyId: string) {
    super("M_WRONG_RECOVERY_KEY", `the recovery key does not match the account's secret storage key ${keyId}`);
  }
}

/** A secret's MAC does not verify under the key: wrong key, or the ciphertext was changed. */
export class SecretDecryptionError extends CryptoError {
  override readonly name = "SecretDecryptionError";
  constructor(readonly secretName: string) {
    super("M_SECRET_DECRYPTION", `the secret ${secretName} does not decrypt under this key (bad MAC)`);
  }
}

/** Secret storage or the key backup is missing or in a shape or algorithm we do not support. */
export class RecoverySetupError extends CryptoError {
  override readonly name = "RecoverySetupError";
  constructor(message: string) {
    super("M_RECOVERY_SETUP", message);
  }
}

/** A backed-up session does not decrypt with the backup key, or is not a Megolm session. */
export class BackupDecryptionError extends CryptoError {
  override readonly name = "BackupDecryptionError";
  constructor(readonly roomId: string, readonly sessionId: string, reason: string, cause?: unknown) {
    super("M_BACKUP_DECRYPTION", `backed-up session ${sessionId} of ${roomId} cannot be used: ${reason}`, { cause });
  }
}
