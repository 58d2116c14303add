/**
 * Memory.open's options (docs/PRODUCT.md "The library API"), checked before anything is sent.
 * Names are opsdroid's connector and database options in camelCase.
 */
import { utf8Length } from "../crypto/bytes.js";
import { decodeRecoveryKey } from "../crypto/backup/recovery-key.js";
import type { OlmWasm } from "../crypto/olm/backend.js";
import type { KeyForwardingPolicy } from "../crypto/key-requests.js";
import { HAS_FILE_SYSTEM, RUNTIME } from "../http/runtime.js";
import type { Clock, Transport } from "../http/types.js";
import type { StateAfterOption } from "../http/capabilities.js";
import type { TraceSink } from "../http/trace.js";
import type { RetryPolicy } from "../http/retry.js";
import type { Store } from "../store/store.js";
import { ConfigError } from "./errors.js";
import type { SingleStateKey } from "./format.js";

export interface MemoryOptions {
  /** Base URL of the homeserver, e.g. "http://127.0.0.1:8008". */
  homeserver: string;
  /** An access token; or give userId + password to log in. */
  accessToken?: string;
  userId?: string;
  password?: string;
  /** The device to use; with a password login, the one kept in the store is reused. */
  deviceId?: string;
  /** Room names -> alias or room ID (opsdroid's connector `rooms`). */
  rooms?: Record<string, string>;
  /** A name from `rooms`, an alias or a room ID. Default "main", as opsdroid. */
  defaultRoom?: string;
  /** opsdroid's single_state_key: true (default), false, or a fixed state key. */
  singleStateKey?: SingleStateKey;
  /** opsdroid's should_encrypt (default true): values in encrypted rooms are encrypted. */
  shouldEncrypt?: boolean;
  /** Where the sync token and crypto state live: a directory, or a Store. Default: memory only. */
  store?: string | Store;
  /**
   * End-to-end encryption of values in encrypted rooms (default true; needs a device ID).
   * false: no crypto layer, and puts into encrypted rooms with shouldEncrypt are refused.
   */
  encryption?: boolean;
  /**
   * Which of our own devices get a room key they ask for (m.room_key_request): "cross-signed" (default)
   * a device cross-signed by our identity (`mxdb crypto bootstrap`, `memory.crossSigning`), or one we
   * delivered that session to; "shared-with" only a device we delivered that session to;
   * "all-own-devices" any own device with valid keys (a homeserver, or anyone with the password, can
   * add one); or a function of the device (its `crossSigned` flag included) and the session. Other users' requests are always refused (src/crypto/README.md "Who gets room keys").
   */
  forwardRoomKeysTo?: KeyForwardingPolicy;
  /**
   * MSC4153 "exclude insecure devices" (default false): room keys we share go only to devices
   * cross-signed by their owner; others, our own uncross-signed devices included, cannot read new values.
   */
  excludeInsecureDevices?: boolean;
  /** Seals the crypto store with a key derived from this passphrase (scrypt; src/db/README.md "Encryption at rest"). */
  storePassphrase?: string;
  /**
   * The recovery key (`memory.recovery.create()`, `mxdb recovery create`): restores every room key from
   * the server-side key backup, so a new device with an empty store reads every encrypted value
   * (docs/ENCRYPTION.md "Recovery"). A wrong key fails open with WrongRecoveryKeyError before anything
   * is uploaded. Never logged or traced.
   */
  recoveryKey?: string;
  /** Seals the crypto store with a random key kept in this file (created 0600). Default for a store directory: `<store>/crypto.key`. */
  storeKeyFile?: string;
  /**
   * Where libolm's WebAssembly is, for runtimes where olm cannot find olm.wasm beside its script: a
   * URL, the bytes, or a WebAssembly.Module (docs/RUNTIMES.md). Loaded only when encryption is needed.
   */
  olmWasm?: OlmWasm;
  /**
   * Values too large for an event: "media" (default) keeps them in the homeserver's media
   * repository behind a reference (docs/LARGE-VALUES.md); "refuse" fails such a put with
   * EventTooLargeError, for rooms opsdroid must read exactly.
   */
  largeValues?: "media" | "refuse";
  /** Record every HTTP exchange: a file path (JSON lines) or a sink. Tokens are redacted. */
  trace?: string | TraceSink;
  /** Join rooms we are invited to (default false). */
  autoJoin?: boolean;
  /** Replace the HTTP transport (tests, other runtimes). */
  transport?: Transport;
  clock?: Clock;
  retry?: Partial<RetryPolicy>;
  /**
   * How long one request (a state PUT, a send) keeps being retried through 429s, network errors and
   * 502/503/504 before its put fails with the last error; default 300000 (5 min). Same as
   * `retry.deadlineMs`. A state PUT is rebuilt on the freshest picture for each try (src/db/writer.ts).
   */
  writeTimeoutMs?: number;
  /** Long-poll timeout of the sync loop (ms), default 30000. */
  syncTimeoutMs?: number;
  /**
   * The /sync state algorithm. "auto" (default): chosen from GET /versions at open (stable
   * `use_state_after` from spec v1.16, MSC4222 when `unstable_features` lists it, else classic);
   * "never" forces classic; "stable" / "unstable" force state_after under that name, for a server
   * that has it without saying so (Synapse's `msc4222_enabled`). `db.capabilities` shows the choice.
   */
  stateAfter?: StateAfterOption;
  /** State PUTs in flight at once across all state keys (default 32: bench scenario 4 reached the homeserver's ceiling there). */
  writeConcurrency?: number;
  /**
   * State writes in flight at once into one room (default 1; Infinity: no limit but writeConcurrency).
   * Concurrent state PUTs into one room fork its DAG and each costs the homeserver more
   * (src/db/room-write-queue.ts). Writes to different rooms stay parallel.
   */
  roomWriteConcurrency?: number;
  /**
   * How long after a write another write forked off the same parent can still land and win (ms,
   * default 1000; flush() waits longer when our PUTs were slow, twice the slowest): flush() checks
   * the homeserver's state only after it. docs/DURABILITY.md.
   */
  settleMs?: number;
  /**
   * With one shared state key (singleStateKey), put back the changes of a fork that lost state
   * resolution after its writers had verified them (a federation partition healing; a sibling
   * stored late): default true. Needs power to send the state event; a refusal goes to onError.
   * docs/DURABILITY.md "Late forks".
   */
  mergeForks?: boolean;
  /**
   * Memory.open gives up after this long (ms, default 120000: a first sync of a large account takes
   * tens of seconds) with OpenTimeoutError, stopping what it started. Timed on `clock`: with a test
   * clock whose sleeps return at once, pass Infinity.
   */
  timeoutMs?: number;
  /** Aborting it makes a pending Memory.open fail with AbortedError, stopping what it started. */
  signal?: AbortSignal;
  /** A /sync with no answer after syncTimeoutMs plus this margin (ms, default 15000) is aborted and retried. Infinity: off. */
  syncDeadlineMarginMs?: number;
  /** Errors the background work recovers from (sync retries, repairs). */
  onError?: (error: unknown) => void;
}

export interface ResolvedOptions extends MemoryOptions {
  rooms: Record<string, string>;
  defaultRoom: string;
  singleStateKey: SingleStateKey;
  shouldEncrypt: boolean;
}

export function checkOptions(options: MemoryOptions): ResolvedOptions {
  if (typeof options !== "object" || options === null) throw new ConfigError("Memory.open needs an options object");
  let url: URL;
  try {
    url = new URL(options.homeserver);
  } catch {
    throw new ConfigError(`homeserver must be a URL like http://127.0.0.1:8008, got ${JSON.stringify(options.homeserver)}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new ConfigError(`homeserver must be an http(s) URL, got ${options.homeserver}`);
  if (options.accessToken === undefined && (options.userId === undefined || options.password === undefined)) {
    throw new ConfigError("give accessToken, or userId and password to log in");
  }
  const single = options.singleStateKey ?? true;
  if (typeof single !== "boolean" && typeof single !== "string") throw new ConfigError("singleStateKey must be true, false or a state key string");
  if (typeof single === "string" && (utf8Length(single) > 255 || single.startsWith("@"))) {
    throw new ConfigError("singleStateKey as a string is a state key: at most 255 bytes, not starting with '@'");
  }
  if (options.storePassphrase !== undefined && (typeof options.storePassphrase !== "string" || options.storePassphrase.length === 0)) {
    throw new ConfigError("storePassphrase must be a non-empty string");
  }
  if (options.storePassphrase !== undefined && options.storeKeyFile !== undefined) throw new ConfigError("give storePassphrase or storeKeyFile, not both");
  // Paths need a file system: refused up front where the runtime has none (docs/RUNTIMES.md).
  for (const name of ["store", "trace", "storeKeyFile"] as const) {
    if (typeof options[name] === "string" && !HAS_FILE_SYSTEM) {
      throw new ConfigError(`${name} is a path, and this runtime (${RUNTIME}) has no file system: pass ${name === "trace" ? "a TraceSink function" : name === "store" ? "a Store object (MemoryStore, or your own)" : "storePassphrase instead"}`);
    }
  }
  if (options.recoveryKey !== undefined) {
    if (typeof options.recoveryKey !== "string") throw new ConfigError("recoveryKey must be a string (48 base58 characters, spaces allowed)");
    if (options.encryption === false) throw new ConfigError("recoveryKey restores encryption keys: it cannot be used with encryption: false");
    decodeRecoveryKey(options.recoveryKey).fill(0); // RecoveryKeyFormatError before anything is sent
  }
  const fwd = options.forwardRoomKeysTo;
  if (fwd !== undefined && typeof fwd !== "function" && !["cross-signed", "shared-with", "all-own-devices"].includes(fwd)) {
    throw new ConfigError('forwardRoomKeysTo must be "cross-signed", "shared-with", "all-own-devices" or a function');
  }
  if (options.excludeInsecureDevices !== undefined && typeof options.excludeInsecureDevices !== "boolean") throw new ConfigError("excludeInsecureDevices must be true or false");
  if (options.largeValues !== undefined && options.largeValues !== "media" && options.largeValues !== "refuse") throw new ConfigError('largeValues must be "media" or "refuse"');
  if (options.stateAfter !== undefined && !["auto", "never", "stable", "unstable"].includes(options.stateAfter)) throw new ConfigError('stateAfter must be "auto", "never", "stable" or "unstable"');
  if (options.mergeForks !== undefined && typeof options.mergeForks !== "boolean") throw new ConfigError("mergeForks must be true or false");
  for (const name of ["writeConcurrency", "roomWriteConcurrency"] as const) {
    const v = options[name];
    if (v !== undefined && !(v === Infinity || (Number.isInteger(v) && v >= 1))) throw new ConfigError(`${name} must be an integer >= 1 (or Infinity)`);
  }
  if (options.settleMs !== undefined && (!Number.isFinite(options.settleMs) || options.settleMs < 0)) throw new ConfigError("settleMs must be a number of milliseconds >= 0");
  for (const name of ["timeoutMs", "syncDeadlineMarginMs"] as const) {
    const v = options[name];
    if (v !== undefined && (typeof v !== "number" || Number.isNaN(v) || v <= 0)) throw new ConfigError(`${name} must be a positive number of milliseconds (Infinity: no limit)`);
  }
  if (options.writeTimeoutMs !== undefined && !(typeof options.writeTimeoutMs === "number" && options.writeTimeoutMs > 0)) {
    throw new ConfigError("writeTimeoutMs must be a positive number of milliseconds");
  }
  const rooms = options.rooms ?? {};
  for (const [name, target] of Object.entries(rooms)) {
    if (typeof target !== "string" || !(target.startsWith("!") || target.startsWith("#"))) {
      throw new ConfigError(`rooms.${name} must be a room alias (#room:server) or a room ID (!id), got ${JSON.stringify(target)}`);
    }
  }
  return { ...options, rooms, defaultRoom: options.defaultRoom ?? "main", singleStateKey: single, shouldEncrypt: options.shouldEncrypt ?? true };
}
