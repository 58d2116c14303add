/**
 * mxdb: a key-value memory stored in Matrix room state, compatible with opsdroid's Matrix database.
 * The public API (docs/PRODUCT.md): Memory and memoryInEventRoom, their options and errors, and
 * the lower layers for people who build on them.
 *
 * This is the portable core: it runs in Node, Bun, Deno, Workers and browsers, and imports nothing
 * Node-only. On Node, Bun and Deno the package's entry is ./node.ts, which adds FileStore,
 * undiciTransport and fileTraceSink (docs/RUNTIMES.md).
 */
export { Memory, type MemoryEntry } from "./db/memory.js";
export { memoryInEventRoom } from "./db/event-room.js";
export type { MemoryOptions } from "./db/options.js";
export type { MemoryChange } from "./db/watch.js";
export type { MediaReference } from "./db/media-values.js";
export type { HistoryOptions, KeyVersion } from "./db/history.js";
export type { PutAllOptions } from "./db/put-all.js";
export type { AuditEntry } from "./db/audit.js";
export { RoomHandle } from "./db/room-handle.js";
export {
  InvalidValueError,
  InvalidKeyError,
  EventTooLargeError,
  ImportTooLargeError,
  UnknownRoomError,
  EncryptionUnavailableError,
  UndecryptableValueError,
  MigrationError,
  MemoryClosedError,
  ConfigError,
  OpenTimeoutError,
  RoomScopeUnavailableError,
  ValueTooLargeError,
  MediaValueError,
  UnverifiableWriteError,
  CrossSigningAuthError,
  CrossSigningUploadError,
} from "./db/errors.js";
export { RecoveryKeyFormatError, WrongRecoveryKeyError, RecoverySetupError, SecretDecryptionError, BackupDecryptionError } from "./crypto/backup/errors.js";
export { CrossSigningKeyMismatchError, CrossSigningKeyChangedError, DeviceNotSignableError } from "./crypto/errors.js";
export type { Recovery, RecoveryStatus } from "./db/recovery.js";
export type { CrossSigning, CrossSigningStatus, BootstrapAction } from "./db/cross-signing.js";
export { EVENT_TYPE, LEGACY_EVENT_TYPE, MEDIA_FIELD, type SingleStateKey } from "./db/format.js";
export { MxdbError, MatrixError, HttpError, TransportError, TransportRefusedError, ResponseShapeError, AbortedError, isMxdbError, isMatrixError } from "./http/errors.js";
export { HttpClient, type HttpClientOptions } from "./http/client.js";
export type { Transport, HttpRequest, HttpResponse, Clock } from "./http/types.js";
export { defaultTransport, fetchTransport, lazyTransport } from "./http/transport.js";
export { detectRuntime, RUNTIME, type RuntimeName } from "./http/runtime.js";
export { tracingTransport, memoryTraceSink, type TraceRecord, type TraceSink } from "./http/trace.js";
export { MemoryStore, IndexedDBStore, StoreFormatError, type Store } from "./store/index.js";
export { SyncLoop, type SyncLoopOptions } from "./sync/sync-loop.js";
export { UnsupportedHomeserverError, decideCapabilities, type ServerCapabilities, type SyncPath, type StateAfterOption } from "./http/capabilities.js";
export { MalformedEventError, SyncTimeoutError } from "./sync/errors.js";
export { RoomState, type StateEvent, type StateChange } from "./state/index.js";
