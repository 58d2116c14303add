/**
 * The one seam between the protocol code and the Olm/Megolm primitives.
 *
 * libolm is deprecated upstream (docs/PROTOCOL.md "libolm"); everything libolm-specific lives in
 * ./olm/backend.ts.
 * A vodozemac backend implements this interface and nothing else changes. The shapes follow what both
 * libraries offer: objects are created, used, pickled with a 32-byte key and freed (the WASM heap is
 * not garbage-collected, so the protocol code frees every object in a `finally`).
 */

export interface Freeable {
  free(): void;
}

export interface IdentityKeys {
  curve25519: string;
  ed25519: string;
}

export interface AccountObj extends Freeable {
  identityKeys(): IdentityKeys;
  /** Ed25519 signature (unpadded base64) over the UTF-8 bytes of `message`. */
  sign(message: string): string;
  maxNumberOfOneTimeKeys(): number;
  generateOneTimeKeys(count: number): void;
  /** Unpublished one-time keys: key id -> curve25519 public key. */
  oneTimeKeys(): Record<string, string>;
  generateFallbackKey(): void;
  /** The fallback key not yet marked published (at most one). */
  unpublishedFallbackKey(): Record<string, string>;
  forgetOldFallbackKey(): void;
  markKeysAsPublished(): void;
  /** Olm: start an outbound session to a device from its identity key and a claimed one-time key. */
  createOutboundSession(theirCurve25519: string, theirOneTimeKey: string): OlmSessionObj;
  /** Olm: start an inbound session from a pre-key message (does not remove the one-time key). */
  createInboundSession(theirCurve25519: string, preKeyBody: string): OlmSessionObj;
  /** Forget the one-time key the session used (only after the first message decrypted). */
  removeOneTimeKeys(session: OlmSessionObj): void;
  pickle(key: Uint8Array): string;
}

export interface OlmSessionObj extends Freeable {
  sessionId(): string;
  hasReceivedMessage(): boolean;
  /** Whether a pre-key message was produced for this session (same sender identity key). */
  matchesInbound(theirCurve25519: string, preKeyBody: string): boolean;
  encrypt(plaintext: string): { type: 0 | 1; body: string };
  decrypt(type: 0 | 1, body: string): string;
  pickle(key: Uint8Array): string;
}

export interface OutboundGroupSessionObj extends Freeable {
  sessionId(): string;
  /** The current ratchet state, shared in m.room_key. */
  sessionKey(): string;
  messageIndex(): number;
  encrypt(plaintext: string): string;
  pickle(key: Uint8Array): string;
}

export interface InboundGroupSessionObj extends Freeable {
  sessionId(): string;
  firstKnownIndex(): number;
  /** Throws UnknownIndex when the message is below firstKnownIndex. */
  decrypt(ciphertext: string): { messageIndex: number; plaintext: string };
  /** Export in the m.forwarded_room_key session_key format, starting at `index`. */
  exportAt(index: number): string;
  pickle(key: Uint8Array): string;
}

/** Errors a backend raises, normalised so protocol code does not parse library strings. */
export class BackendError extends Error {
  override readonly name = "BackendError";
  constructor(
    readonly kind: "UnknownIndex" | "BadMessage" | "BadKey" | "BadPickleKey" | "LoadFailed" | "Other",
    message: string,
  ) {
    super(message);
  }
}

export interface CryptoBackend {
  readonly name: string;
  newAccount(): AccountObj;
  unpickleAccount(key: Uint8Array, pickle: string): AccountObj;
  unpickleOlmSession(key: Uint8Array, pickle: string): OlmSessionObj;
  newOutboundGroupSession(): OutboundGroupSessionObj;
  unpickleOutboundGroupSession(key: Uint8Array, pickle: string): OutboundGroupSessionObj;
  /** From an m.room_key session_key (signed, index-bearing). */
  inboundGroupSessionFromKey(sessionKey: string): InboundGroupSessionObj;
  /** From an m.forwarded_room_key session_key (export format). */
  importInboundGroupSession(exportedKey: string): InboundGroupSessionObj;
  unpickleInboundGroupSession(key: Uint8Array, pickle: string): InboundGroupSessionObj;
  /** True when `signature` is a valid Ed25519 signature by `publicKey` over UTF-8 `message`. */
  verifyEd25519(publicKey: string, message: string, signature: string): boolean;
  /**
   * Curve25519 public key (unpadded base64) of a 32-byte private key (key backup,
   * https://spec.matrix.org/v1.19/client-server-api/#backup-algorithm-mmegolm_backupv1curve25519-aes-sha2).
   */
  pkPublicKey(privateKey: Uint8Array): string;
  /** The backup algorithm's encryption to `publicKey` (an ephemeral key each call; libolm's PkEncryption). */
  pkEncrypt(publicKey: string, plaintext: string): PkMessage;
  /** Its inverse; throws BackendError "BadMessage" when the MAC does not verify. */
  pkDecrypt(privateKey: Uint8Array, message: PkMessage): string;
  /** An Ed25519 signing key from a 32-byte seed (cross-signing keys; libolm's PkSigning). */
  signingKeyFromSeed(seed: Uint8Array): SigningKeyObj;
}

/** session_data of a backed-up key: all unpadded base64. */
export interface PkMessage {
  ciphertext: string;
  mac: string;
  ephemeral: string;
}

export interface SigningKeyObj extends Freeable {
  /** Unpadded base64 public key. */
  readonly publicKey: string;
  sign(message: string): string;
}

/** Run `fn` with a freshly made object and always free it. */
export function using<T extends Freeable, R>(obj: T, fn: (o: T) => R): R {
  try {
    return fn(obj);
  } finally {
    obj.free();
  }
}
