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
export type { CrossSigningSecrets, CrossSigningPublicKeys } from "./cross-signing.js";
