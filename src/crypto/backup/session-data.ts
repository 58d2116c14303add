/**
 * Backed-up room keys, algorithm m.megolm_backup.v1.curve25519-aes-sha2
 * (https://spec.matrix.org/v1.19/client-server-api/#backup-algorithm-mmegolm_backupv1curve25519-aes-sha2):
 * the exported Megolm session (BackedUpSessionData) is encrypted to the backup's curve25519 public key
 * with an ephemeral key: ECDH, HKDF-SHA-256 (80 bytes: AES key, MAC key, IV), AES-256-CBC, and a MAC
 * of 8 bytes of HMAC-SHA-256. The spec notes libolm's quirk, which every implementation matches: the
 * MAC is computed over an empty buffer, not the ciphertext. libolm's PkEncryption/PkDecryption do
 * exactly this (the backend's pkEncrypt/pkDecrypt); test/unit/crypto-key-backup checks the quirk
 * with WebCrypto X25519 independently.
 */
import { MEGOLM_ALGORITHM } from "../account.js";
import { BackendError, type CryptoBackend, type PkMessage } from "../backend.js";
import { BackupDecryptionError } from "./errors.js";

export const BACKUP_ALGORITHM = "m.megolm_backup.v1.curve25519-aes-sha2";

/** The plaintext of session_data. */
export interface BackedUpSessionData {
  algorithm: string;
  sender_key: string;
  sender_claimed_keys: Record<string, string>;
  forwarding_curve25519_key_chain: string[];
  /** Exported session (the m.forwarded_room_key format). */
  session_key: string;
  /** v1.19: the session is shareable with later members (https://spec.matrix.org/v1.19/client-server-api/#shareable-encryption-sessions). */
  shared_history?: boolean;
}

/** One session in PUT/GET /room_keys/keys. */
export interface KeyBackupData {
  first_message_index: number;
  forwarded_count: number;
  is_verified: boolean;
  session_data: PkMessage;
}

/** The body of PUT /room_keys/keys and the answer of GET /room_keys/keys. */
export interface RoomKeysBody {
  rooms: Record<string, { sessions: Record<string, KeyBackupData> }>;
}

export function encryptSessionData(backend: CryptoBackend, publicKey: string, data: BackedUpSessionData): PkMessage {
  return backend.pkEncrypt(publicKey, JSON.stringify(data));
}

/** Decrypt and check the shape; throws BackupDecryptionError (wrong key, changed data, not Megolm). */
export function decryptSessionData(backend: CryptoBackend, privateKey: Uint8Array, roomId: string, sessionId: string, message: unknown): BackedUpSessionData {
  const m = message as Partial<PkMessage> | undefined;
  if (typeof m?.ciphertext !== "string" || typeof m.mac !== "string" || typeof m.ephemeral !== "string") {
    throw new BackupDecryptionError(roomId, sessionId, "session_data lacks ciphertext/mac/ephemeral");
  }
  let text: string;
  try {
    text = backend.pkDecrypt(privateKey, { ciphertext: m.ciphertext, mac: m.mac, ephemeral: m.ephemeral });
  } catch (e) {
    throw new BackupDecryptionError(roomId, sessionId, e instanceof BackendError && e.kind === "BadMessage" ? "bad MAC (another backup key?)" : "does not decrypt", e);
  }
  let data: Partial<BackedUpSessionData>;
  try {
    data = JSON.parse(text) as Partial<BackedUpSessionData>;
  } catch (e) {
    throw new BackupDecryptionError(roomId, sessionId, "plaintext is not JSON", e);
  }
  if (data.algorithm !== MEGOLM_ALGORITHM) throw new BackupDecryptionError(roomId, sessionId, `algorithm ${String(data.algorithm)}`);
  if (typeof data.session_key !== "string" || typeof data.sender_key !== "string") throw new BackupDecryptionError(roomId, sessionId, "no session_key/sender_key");
  return {
    algorithm: data.algorithm,
    sender_key: data.sender_key,
    sender_claimed_keys: typeof data.sender_claimed_keys === "object" && data.sender_claimed_keys !== null ? data.sender_claimed_keys : {},
    forwarding_curve25519_key_chain: Array.isArray(data.forwarding_curve25519_key_chain) ? data.forwarding_curve25519_key_chain.filter((k) => typeof k === "string") : [],
    session_key: data.session_key,
    shared_history: data.shared_history === true,
  };
}
