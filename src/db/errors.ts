/**
 * The memory's own errors. Every one is thrown before anything is sent, and leaves the memory as it
 * was (docs/PRODUCT.md "Bad input gets a clear, typed error"). Errors from the homeserver stay
 * MatrixError (with its errcode); these are the checks mxdb makes itself.
 */
import { MxdbError } from "../http/errors.js";

/** The value cannot be stored as JSON in room state (undefined, functions, BigInt, cycles, floats...). */
export class InvalidValueError extends MxdbError {
  override readonly name = "InvalidValueError";
  readonly code = "INVALID_VALUE";
  constructor(
    readonly key: string,
    /** Where inside the value, as a JSON path like `$.a[2]`. */
    readonly path: string,
    readonly reason: string,
  ) {
    super(`cannot store key ${JSON.stringify(key)}: ${path === "$" ? "the value" : path} ${reason}`);
  }
}

/** The key cannot be used: not a string, or an invalid state key in `singleStateKey: false` mode. */
export class InvalidKeyError extends MxdbError {
  override readonly name = "InvalidKeyError";
  readonly code = "INVALID_KEY";
  constructor(
    readonly key: unknown,
    readonly reason: string,
  ) {
    super(`invalid key ${typeof key === "string" ? JSON.stringify(key) : String(key)}: ${reason}`);
  }
}

/** The state event would exceed the 65,536-byte limit on events (spec "Size limits"). */
export class EventTooLargeError extends MxdbError {
  override readonly name = "EventTooLargeError";
  readonly code = "EVENT_TOO_LARGE";
  constructor(
    readonly key: string,
    /** Estimated size of the whole event in canonical JSON, envelope included. */
    readonly size: number,
    readonly limit: number,
    readonly singleStateKey: boolean | string,
  ) {
    super(
      `cannot store key ${JSON.stringify(key)}: the state event would be about ${size} bytes of canonical JSON, over the ${limit}-byte limit` +
        (singleStateKey === false
          ? "; store a smaller value"
          : "; every key shares one event in this mode, so use singleStateKey: false to give each key its own event"),
    );
  }
}

/**
 * Puts made together (an import) would make one shared state event pass its limit, although each
 * alone may fit: refused before any of them is sent (Memory.putAll).
 */
export class ImportTooLargeError extends MxdbError {
  override readonly name = "ImportTooLargeError";
  readonly code = "IMPORT_TOO_LARGE";
  constructor(
    /** How many of the keys share the event. */
    readonly keys: number,
    readonly stateKey: string,
    /** Estimated size of the whole event in canonical JSON, envelope included, every value inline. */
    readonly size: number,
    readonly limit: number,
    readonly singleStateKey: boolean | string,
  ) {
    super(
      `cannot put these ${keys} keys together: they share one state event (state key ${JSON.stringify(stateKey)}), which would be about ${size} bytes of canonical JSON, over the ${limit}-byte limit` +
        `${limit < 65_536 ? " (the part of the 65,536-byte event limit kept for inline values; the rest are too small to gain from media)" : ""}; nothing was sent. ` +
        "Use singleStateKey: false (mxdb: --single-state-key false) to give each key its own event, or put fewer keys in this room",
    );
  }
}

/** A room name that is not in `rooms`, nor an alias or room ID. */
export class UnknownRoomError extends MxdbError {
  override readonly name = "UnknownRoomError";
  readonly code = "UNKNOWN_ROOM";
  constructor(
    readonly room: string,
    reason: string,
  ) {
    super(`unknown room ${JSON.stringify(room)}: ${reason}`);
  }
}

/** A write that needs end-to-end encryption which this memory cannot provide. */
export class EncryptionUnavailableError extends MxdbError {
  override readonly name = "EncryptionUnavailableError";
  readonly code = "ENCRYPTION_UNAVAILABLE";
  constructor(
    readonly roomId: string,
    reason: string,
  ) {
    super(`room ${roomId} is encrypted and shouldEncrypt is on, but ${reason}; nothing was written (set shouldEncrypt: false to store plaintext deliberately)`);
  }
}

/** A stored value is an encrypted reference that could not be resolved and decrypted. */
export class UndecryptableValueError extends MxdbError {
  override readonly name = "UndecryptableValueError";
  readonly code = "UNDECRYPTABLE_VALUE";
  constructor(
    readonly key: string,
    readonly roomId: string,
    readonly eventId: string,
    readonly reason: string,
    override readonly cause?: unknown,
  ) {
    super(`cannot read key ${JSON.stringify(key)} in ${roomId}: its value is encrypted in event ${eventId} and ${reason}`);
  }
}

/** The legacy `opsdroid.database` migration failed; reported once, not retried on every call. */
export class MigrationError extends MxdbError {
  override readonly name = "MigrationError";
  readonly code = "MIGRATION_FAILED";
  constructor(
    readonly roomId: string,
    override readonly cause: unknown,
  ) {
    super(`migrating legacy opsdroid.database state in ${roomId} failed: ${cause instanceof Error ? cause.message : String(cause)}`);
  }
}

/** Memory.open did not finish within `timeoutMs`; everything it had started was stopped. */
export class OpenTimeoutError extends MxdbError {
  override readonly name = "OpenTimeoutError";
  readonly code = "OPEN_TIMEOUT";
  constructor(readonly timeoutMs: number) {
    super(`Memory.open did not finish within ${timeoutMs} ms (login, first sync, default room); it was stopped and its connections closed`);
  }
}

/** A value past the homeserver's upload limit (`m.upload.size`): refused before anything is sent. */
export class ValueTooLargeError extends MxdbError {
  override readonly name = "ValueTooLargeError";
  readonly code = "VALUE_TOO_LARGE";
  constructor(
    readonly key: string,
    readonly size: number,
    readonly limit: number,
  ) {
    super(`cannot store key ${JSON.stringify(key)}: its ${size} bytes are over the homeserver's upload limit of ${limit} bytes (m.upload.size)`);
  }
}

/**
 * A value kept in the media repository could not be read back: the download failed, or its bytes
 * do not match the hash in the reference (corrupted or replaced), or they do not decrypt. Never
 * returned as the reference itself.
 */
export class MediaValueError extends MxdbError {
  override readonly name = "MediaValueError";
  readonly code = "MEDIA_VALUE";
  constructor(
    readonly key: string,
    /** The `mxc://` URI of the media. */
    readonly mediaUri: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`cannot read key ${JSON.stringify(key)} from ${mediaUri}: ${reason}`, options);
  }
}

/**
 * inRoom needs AsyncLocalStorage to keep each task's room apart, and this runtime has none (a
 * browser, Workers without nodejs_compat). Nothing ran; `db.room(ref)` works everywhere.
 */
export class RoomScopeUnavailableError extends MxdbError {
  override readonly name = "RoomScopeUnavailableError";
  readonly code = "ROOM_SCOPE_UNAVAILABLE";
  constructor() {
    super("inRoom needs AsyncLocalStorage, which this runtime does not have; use db.room(roomOrName).put/get/... instead");
  }
}

/** The memory was closed. */
export class MemoryClosedError extends MxdbError {
  override readonly name = "MemoryClosedError";
  readonly code = "MEMORY_CLOSED";
  constructor() {
    super("the memory is closed");
  }
}

/** Options that cannot work together, found before anything is sent. */
export class ConfigError extends MxdbError {
  override readonly name = "ConfigError";
  readonly code = "CONFIG";
  constructor(message: string) {
    super(message);
  }
}

/**
 * Another writer's event replaced some of our acknowledged ops, and this homeserver's
 * `unsigned.replaces_state` cannot tell a lost write from a deliberate overwrite (Dendrite names the
 * previously current event, not the state at the event's parents: docs/HOMESERVERS.md "Dendrite").
 * mxdb neither repairs nor reports success: flush() rejects with this, listing the keys.
 */
export class UnverifiableWriteError extends MxdbError {
  override readonly name = "UnverifiableWriteError";
  readonly code = "UNVERIFIABLE_WRITE";
  constructor(
    readonly keys: string[],
    readonly server: string,
  ) {
    super(`${server}: another writer's event replaced our write of ${keys.map((k) => JSON.stringify(k)).join(", ")}, and this homeserver's replaces_state cannot tell whether that writer saw it; not repaired (docs/HOMESERVERS.md "Dendrite")`);
  }
}

/**
 * Uploading cross-signing keys needs user-interactive auth mxdb cannot complete: no password is
 * configured, or the server refused it or offers no password flow. `errcode` is the server's, if any.
 */
export class CrossSigningAuthError extends MxdbError {
  override readonly name = "CrossSigningAuthError";
  readonly code = "CROSS_SIGNING_AUTH";
  constructor(
    /** The UIA flows the server offered, each a list of stage types. */
    readonly flows: string[][],
    readonly errcode: string | undefined,
    reason: string,
  ) {
    super(`uploading the cross-signing keys needs the account's password (user-interactive auth; the server offers ${flows.map((f) => f.join(" + ")).join(", ") || "no flow"}${errcode ? `, ${errcode}` : ""}): ${reason}`);
  }
}

/** The homeserver refused a cross-signing signature, or secret storage lacks the keys to restore. */
export class CrossSigningUploadError extends MxdbError {
  override readonly name = "CrossSigningUploadError";
  readonly code = "CROSS_SIGNING";
}
