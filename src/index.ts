/**
 * mxdb: a key-value memory stored in Matrix room state, compatible with opsdroid's Matrix database.
 * The public API (PRODUCT.md): Memory and memoryInEventRoom, their options and errors, and the
 * lower layers for people who build on them.
 */
export { Memory, memoryInEventRoom, type MemoryOptions, type MemoryChange } from "./db/memory.js";
export {
  InvalidValueError,
  InvalidKeyError,
  EventTooLargeError,
  UnknownRoomError,
  EncryptionUnavailableError,
  UndecryptableValueError,
  MigrationError,
  MemoryClosedError,
  ConfigError,
  OpenTimeoutError,
} from "./db/errors.js";
export { EVENT_TYPE, LEGACY_EVENT_TYPE, type SingleStateKey } from "./db/format.js";
export { MxdbError, MatrixError, HttpError, TransportError, ResponseShapeError, AbortedError, isMxdbError, isMatrixError } from "./http/errors.js";
export { HttpClient, type HttpClientOptions } from "./http/client.js";
export type { Transport, HttpRequest, HttpResponse, Clock } from "./http/types.js";
export { undiciTransport, fetchTransport } from "./http/transport.js";
export { tracingTransport, fileTraceSink, memoryTraceSink, type TraceRecord, type TraceSink } from "./http/trace.js";
export { MemoryStore, FileStore, StoreFormatError, type Store } from "./store/index.js";
export { SyncLoop, type SyncLoopOptions } from "./sync/sync-loop.js";
export { MalformedEventError, SyncTimeoutError } from "./sync/errors.js";
export { RoomState, type StateEvent, type StateChange } from "./state/index.js";
