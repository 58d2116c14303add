/**
 * One error class per spec check (docs/STYLE.md "Name crypto files after protocol steps"). Every
 * class carries a stable `code` so callers can switch on it without `instanceof` across package
 * boundaries.
 * Olm payload checks: https://spec.matrix.org/v1.19/client-server-api/#mmolmv1curve25519-aes-sha2
 * Megolm checks: https://spec.matrix.org/v1.19/client-server-api/#mmegolmv1aes-sha2
 */

export class CryptoError extends Error {
  override readonly name: string = "CryptoError";
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function isCryptoError(e: unknown): e is CryptoError {
  return e instanceof CryptoError;
}

// ---- store -------------------------------------------------------------------------------------

/** The crypto store could not be decrypted with the given storeKey (wrong key or tampered value). */
export class StoreDecryptionError extends CryptoError {
  override readonly name = "StoreDecryptionError";
  constructor(readonly storeKeyName: string, cause?: unknown) {
    super("M_STORE_DECRYPTION", `crypto store value ${storeKeyName} cannot be decrypted (wrong storeKey?)`, { cause });
  }
}

/** The store holds an account for another user/device than the one we were opened for. */
export class StoreOwnerMismatchError extends CryptoError {
  override readonly name = "StoreOwnerMismatchError";
  constructor(expected: string, found: string) {
    super("M_STORE_OWNER_MISMATCH", `crypto store belongs to ${found}, not ${expected}`);
  }
}

// ---- device keys (keys/query, keys/claim) --------------------------------------------------------

/** "Checking for a Signature" failed: missing, undecodable or invalid ed25519 signature. */
export class BadSignatureError extends CryptoError {
  override readonly name = "BadSignatureError";
  constructor(readonly userId: string, readonly deviceId: string, what: string) {
    super("M_BAD_SIGNATURE", `bad signature on ${what} of ${userId}/${deviceId}`);
  }
}

/** keys/query map keys differ from the user_id/device_id inside the signed DeviceKeys object. */
export class DeviceIdMismatchError extends CryptoError {
  override readonly name = "DeviceIdMismatchError";
  constructor(readonly userId: string, readonly deviceId: string, found: string) {
    super("M_DEVICE_ID_MISMATCH", `keys/query entry ${userId}/${deviceId} holds keys for ${found}`);
  }
}

/** A device we pinned came back with a different ed25519 key: refused, the old key stays. */
export class DeviceKeyChangedError extends CryptoError {
  override readonly name = "DeviceKeyChangedError";
  constructor(readonly userId: string, readonly deviceId: string) {
    super("M_DEVICE_KEY_CHANGED", `ed25519 key of pinned device ${userId}/${deviceId} changed; refused`);
  }
}

/** DeviceKeys without the Olm curve25519/ed25519 keys or algorithms we need. */
export class IncompleteDeviceKeysError extends CryptoError {
  override readonly name = "IncompleteDeviceKeysError";
  constructor(readonly userId: string, readonly deviceId: string) {
    super("M_INCOMPLETE_DEVICE_KEYS", `device ${userId}/${deviceId} lacks curve25519/ed25519 keys`);
  }
}

// ---- Olm ---------------------------------------------------------------------------------------

/** m.room.encrypted to-device event whose ciphertext map has no entry for our curve25519 key. */
export class NotForUsError extends CryptoError {
  override readonly name = "NotForUsError";
  constructor() {
    super("M_NOT_FOR_US", "olm ciphertext has no entry for our curve25519 key");
  }
}

/** Type 1 message and no existing session decrypts it; or a pre-key message fails (spec: invalid). */
export class OlmDecryptionError extends CryptoError {
  override readonly name = "OlmDecryptionError";
  constructor(readonly senderKey: string, reason: string, cause?: unknown) {
    super("M_OLM_DECRYPTION", `olm message from ${senderKey} cannot be decrypted: ${reason}`, { cause });
  }
}

/** Olm payload: `sender` is not the user who sent the to-device event. */
export class SenderMismatchError extends CryptoError {
  override readonly name = "SenderMismatchError";
  constructor(expected: string, found: unknown) {
    super("M_SENDER_MISMATCH", `payload sender ${String(found)} is not the event sender ${expected}`);
  }
}

/** Olm payload: `recipient` is not us. */
export class RecipientMismatchError extends CryptoError {
  override readonly name = "RecipientMismatchError";
  constructor(found: unknown) {
    super("M_RECIPIENT_MISMATCH", `olm payload recipient ${String(found)} is not us`);
  }
}

/** Olm payload: `recipient_keys.ed25519` is not our ed25519 key. */
export class RecipientKeyMismatchError extends CryptoError {
  override readonly name = "RecipientKeyMismatchError";
  constructor() {
    super("M_RECIPIENT_KEY_MISMATCH", "olm payload recipient_keys.ed25519 is not our ed25519 key");
  }
}

/** Olm payload: `keys.ed25519` (or sender_device_keys) differ from the device keys/query returned. */
export class SenderKeyMismatchError extends CryptoError {
  override readonly name = "SenderKeyMismatchError";
  constructor(detail: string) {
    super("M_SENDER_KEY_MISMATCH", `olm payload sender keys do not match the known device: ${detail}`);
  }
}

/** The sender_key belongs to no device keys/query returned for the sender, even after a re-query. */
export class UnknownSenderDeviceError extends CryptoError {
  override readonly name = "UnknownSenderDeviceError";
  constructor(readonly userId: string, readonly senderKey: string) {
    super("M_UNKNOWN_SENDER_DEVICE", `no known device of ${userId} has curve25519 key ${senderKey}`);
  }
}

/** Malformed event or payload (missing fields, wrong types, unknown algorithm). */
export class MalformedEventError extends CryptoError {
  override readonly name = "MalformedEventError";
  constructor(detail: string) {
    super("M_MALFORMED", `malformed encrypted event: ${detail}`);
  }
}

export class UnsupportedAlgorithmError extends CryptoError {
  override readonly name = "UnsupportedAlgorithmError";
  constructor(found: unknown) {
    super("M_UNSUPPORTED_ALGORITHM", `unsupported algorithm ${String(found)}`);
  }
}

// ---- Megolm ------------------------------------------------------------------------------------

/** m.room_key (or m.forwarded_room_key) arrived as a plaintext to-device event: refused. */
export class UnencryptedRoomKeyError extends CryptoError {
  override readonly name = "UnencryptedRoomKeyError";
  constructor(type: string, sender: string) {
    super("M_UNENCRYPTED_ROOM_KEY", `${type} from ${sender} was not sent over Olm; refused`);
  }
}

/** The session_key's own session id differs from the session_id the event claims. */
export class SessionIdMismatchError extends CryptoError {
  override readonly name = "SessionIdMismatchError";
  constructor(claimed: string, actual: string) {
    super("M_SESSION_ID_MISMATCH", `room key claims session ${claimed} but its key is for ${actual}`);
  }
}

/** No inbound session for (room_id, session_id): the caller may requestRoomKey(roomId, sessionId). */
export class UnknownSessionError extends CryptoError {
  override readonly name = "UnknownSessionError";
  constructor(readonly roomId: string, readonly sessionId: string, readonly senderKey?: string) {
    super("M_UNKNOWN_SESSION", `no megolm session ${sessionId} for room ${roomId}`);
  }
}

/** We hold the session but only from a later index than this message's (OLM.UNKNOWN_MESSAGE_INDEX). */
export class UnknownMessageIndexError extends CryptoError {
  override readonly name = "UnknownMessageIndexError";
  constructor(readonly roomId: string, readonly sessionId: string, readonly firstKnownIndex: number) {
    super("M_UNKNOWN_MESSAGE_INDEX", `megolm session ${sessionId} is only known from index ${firstKnownIndex}`);
  }
}

export class MegolmDecryptionError extends CryptoError {
  override readonly name = "MegolmDecryptionError";
  constructor(readonly sessionId: string, cause?: unknown) {
    super("M_MEGOLM_DECRYPTION", `megolm message of session ${sessionId} cannot be decrypted`, { cause });
  }
}

/** Same (session, message index) already decrypted for another event_id/origin_server_ts. */
export class ReplayedMessageIndexError extends CryptoError {
  override readonly name = "ReplayedMessageIndexError";
  constructor(readonly sessionId: string, readonly messageIndex: number, readonly firstEventId: string) {
    super("M_REPLAYED_MESSAGE_INDEX", `megolm index ${messageIndex} of ${sessionId} was already used by ${firstEventId}`);
  }
}

/** Megolm plaintext room_id is not the room the event (and the key) belong to. */
export class RoomIdMismatchError extends CryptoError {
  override readonly name = "RoomIdMismatchError";
  constructor(expected: string, found: unknown) {
    super("M_ROOM_ID_MISMATCH", `megolm plaintext room_id ${String(found)} is not ${expected}`);
  }
}

/** Room event sender is not the user who gave us this session. */
export class SessionSenderMismatchError extends CryptoError {
  override readonly name = "SessionSenderMismatchError";
  constructor(eventSender: string, sessionSender: string) {
    super("M_SESSION_SENDER_MISMATCH", `event from ${eventSender} uses a session shared by ${sessionSender}`);
  }
}

/** encryptRoomEvent without a live shared session: call shareRoomKey first (rotation may be due). */
export class NoOutboundSessionError extends CryptoError {
  override readonly name = "NoOutboundSessionError";
  constructor(readonly roomId: string, reason: string) {
    super("M_NO_OUTBOUND_SESSION", `no usable outbound megolm session for ${roomId}: ${reason}; call shareRoomKey first`);
  }
}

// ---- key sharing -------------------------------------------------------------------------------

/** m.forwarded_room_key / m.room_key_request from a device that is not one of our own trusted devices. */
export class UntrustedKeyShareError extends CryptoError {
  override readonly name = "UntrustedKeyShareError";
  constructor(type: string, userId: string, deviceOrKey: string) {
    super("M_UNTRUSTED_KEY_SHARE", `${type} from ${userId} (${deviceOrKey}) is not from our own trusted device`);
  }
}

/** m.forwarded_room_key for a session we never asked for. */
export class UnrequestedForwardedKeyError extends CryptoError {
  override readonly name = "UnrequestedForwardedKeyError";
  constructor(readonly roomId: string, readonly sessionId: string) {
    super("M_UNREQUESTED_FORWARDED_KEY", `forwarded key for ${roomId}/${sessionId} was never requested`);
  }
}

/** markRequestAsSent with an id we did not hand out (or already marked). */
export class UnknownRequestError extends CryptoError {
  override readonly name = "UnknownRequestError";
  constructor(readonly requestId: string) {
    super("M_UNKNOWN_REQUEST", `no outgoing request ${requestId}`);
  }
}

export class MachineClosedError extends CryptoError {
  override readonly name = "MachineClosedError";
  constructor() {
    super("M_MACHINE_CLOSED", "CryptoMachine is closed");
  }
}

// ---- cross-signing (cross-signing-verify.ts) -----------------------------------------------------

/** A master/self-signing/user-signing key object that is not for this user, usage or one ed25519 key. */
export class MalformedCrossSigningKeyError extends CryptoError {
  override readonly name = "MalformedCrossSigningKeyError";
  constructor(readonly userId: string, readonly usage: string, detail: string) {
    super("M_MALFORMED_CROSS_SIGNING_KEY", `${usage} key of ${userId} refused: ${detail}`);
  }
}

/** A cross-signing key lacks a valid signature by the key above it (self-signing by master). */
export class CrossSigningSignatureError extends CryptoError {
  override readonly name = "CrossSigningSignatureError";
  constructor(readonly userId: string, what: string) {
    super("M_BAD_CROSS_SIGNING_SIGNATURE", `bad signature on the ${what} of ${userId}`);
  }
}

/** The master key of a user differs from the one pinned (first seen, or ours): refused, the pin stays. */
export class CrossSigningKeyChangedError extends CryptoError {
  override readonly name = "CrossSigningKeyChangedError";
  constructor(readonly userId: string, readonly pinned: string, readonly found: string) {
    super("M_CROSS_SIGNING_KEY_CHANGED", `master key of ${userId} changed from ${pinned} to ${found}; its devices are not trusted through it`);
  }
}

/** Cross-signing keys (from secret storage) that do not match the account's published public keys. */
export class CrossSigningKeyMismatchError extends CryptoError {
  override readonly name = "CrossSigningKeyMismatchError";
  constructor(readonly usage: string) {
    super("M_CROSS_SIGNING_KEY_MISMATCH", `the private ${usage} key does not match the account's published ${usage} key`);
  }
}

/** An own device to sign is unknown (not in keys/query), refused by a check, or differs from its pinned keys. */
export class DeviceNotSignableError extends CryptoError {
  override readonly name = "DeviceNotSignableError";
  constructor(readonly userId: string, readonly deviceId: string, reason: string) {
    super("M_DEVICE_NOT_SIGNABLE", `cannot cross-sign ${userId}/${deviceId}: ${reason}`);
  }
}
