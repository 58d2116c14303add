/** Public surface of the crypto layer. Nothing here imports another layer of mxdb. */
export { CryptoMachine, type CryptoMachineOptions, type SyncChanges, type DecryptedToDevice } from "./machine.js";
export type { OutgoingRequest } from "./requests.js";
export { type KeyValueStore, deriveStoreKey } from "./store.js";
export type { CryptoBackend, IdentityKeys } from "./backend.js";
export type { DeviceRecord } from "./devices.js";
export type { KeyForwardingPolicy, KeyForwardRequest } from "./key-requests.js";
export { canonicalJson, signingPayload } from "./canonical-json.js";
export * from "./errors.js";
export { olmBackend, type OlmWasm } from "./olm/backend.js";
export { AttachmentError, decryptAttachment, encryptAttachment, sha256Base64, type EncryptedFileInfo } from "./attachments.js";
export * from "./backup/errors.js";
export { decodeRecoveryKey, encodeRecoveryKey } from "./backup/recovery-key.js";
export * from "./backup/secret-storage.js";
export { BACKUP_ALGORITHM, type BackedUpSessionData, type KeyBackupData, type RoomKeysBody } from "./backup/session-data.js";
export type { BackupBatch, BackupRecord, ImportResult, RoomKeyBackup } from "./backup/room-key-backup.js";
export type { CrossSigningSecrets, CrossSigningPublicKeys } from "./cross-signing.js";
