/**
 * CryptoBackend on @matrix-org/olm 3.2.15 (libolm compiled to WASM). The only file that imports it.
 * Call names checked against the package's index.d.ts (docs/PROTOCOL.md "libolm").
 */
import Olm from "@matrix-org/olm";
import {
  BackendError,
  type AccountObj,
  type CryptoBackend,
  type InboundGroupSessionObj,
  type OlmSessionObj,
  type OutboundGroupSessionObj,
  type PkMessage,
} from "../backend.js";

/**
 * Where libolm's WebAssembly comes from, without `fs` or `__dirname` (docs/RUNTIMES.md):
 * - a URL (string or URL): olm's loader fetches it (browsers; a bundler's asset URL);
 * - the bytes (ArrayBuffer, Uint8Array): a Workers module, a file the caller read, a Deno
 *   program without read permission;
 * - a compiled WebAssembly.Module (Workers import `*.wasm` as one).
 * Without it, olm finds olm.wasm beside olm.js itself, which works on Node, Bun and Deno (with read
 * permission) and in pages that serve the file next to the script.
 */
export type OlmWasm = string | URL | ArrayBuffer | Uint8Array | CompiledWasm;

/** A compiled `WebAssembly.Module` (typed loosely: the core's type libraries have no WebAssembly namespace). */
export type CompiledWasm = object;

let ready: Promise<void> | undefined;

/**
 * Olm.init() loads the WASM once per process; the first call's `wasm` decides where from. A load
 * that fails stays failed (olm keeps its first init promise) and is reported as BackendError
 * "LoadFailed" with the reason.
 */
export async function olmBackend(wasm?: OlmWasm): Promise<CryptoBackend> {
  ready ??= initOlm(wasm);
  try {
    await ready;
  } catch (e) {
    throw new BackendError("LoadFailed", `libolm's WebAssembly could not be loaded: ${e instanceof Error ? e.message : String(e)}`);
  }
  return backend;
}

type Globals = { window?: unknown; OLM_OPTIONS?: unknown; process?: { versions?: { node?: string } }; navigator?: { userAgent?: string } };

async function initOlm(wasm: OlmWasm | undefined): Promise<void> {
  const g = globalThis as Globals;
  provideRandomness(g);
  const opts = olmOptions(wasm);
  // olm.js assigns OLM_OPTIONS without declaring it: a strict-mode bundle needs the global to exist.
  g.OLM_OPTIONS = opts;
  const unhide = g.navigator?.userAgent === "Cloudflare-Workers" ? hideProcess() : () => undefined;
  let init: Promise<void>;
  try {
    // Emscripten picks its environment synchronously inside init(); put `process` back right after.
    init = Olm.init(opts);
  } finally {
    unhide();
  }
  await init;
}

function olmOptions(wasm: OlmWasm | undefined): Record<string, unknown> {
  if (wasm === undefined) return {};
  if (typeof wasm === "string" || wasm instanceof URL) {
    const url = String(wasm);
    return { locateFile: (name: string) => (name.endsWith(".wasm") ? url : name) };
  }
  if (wasm instanceof ArrayBuffer || wasm instanceof Uint8Array) return { wasmBinary: wasm instanceof Uint8Array ? wasm : new Uint8Array(wasm) };
  return {
    // Emscripten's hook: instantiate the module ourselves and hand the instance back.
    instantiateWasm: (imports: object, done: (instance: object, module: object) => void) => {
      const api = (globalThis as unknown as { WebAssembly: { instantiate(m: object, i: object): Promise<object> } }).WebAssembly;
      void api.instantiate(wasm, imports).then((instance) => done(instance, wasm));
      return {};
    },
  };
}

/**
 * olm draws randomness from `window.crypto` where there is a window, else from Node's `crypto`
 * through require. Workers and web workers have neither, but have WebCrypto: give olm a `window`
 * that holds only `crypto` (not enumerable; only where no window exists and Node's path is not taken).
 */
function provideRandomness(g: Globals): void {
  const nodePath = g.process?.versions?.node !== undefined && g.navigator?.userAgent !== "Cloudflare-Workers";
  if (g.window !== undefined || nodePath) return;
  Object.defineProperty(globalThis, "window", { configurable: true, enumerable: false, get: () => ({ crypto: globalThis.crypto }) });
}

/**
 * Workers with nodejs_compat have a `process` that makes emscripten take its Node path (fs,
 * __dirname), which Workers lack. Hidden while init() chooses; restored at once.
 */
function hideProcess(): () => void {
  const desc = Object.getOwnPropertyDescriptor(globalThis, "process");
  if (!desc?.configurable) return () => undefined;
  Object.defineProperty(globalThis, "process", { configurable: true, value: undefined, writable: true });
  return () => Object.defineProperty(globalThis, "process", desc);
}

/**
 * libolm's pickle()/unpickle() ZERO the Uint8Array key they are given (olm.js: `b[d]=0` in a finally),
 * so every call gets a throw-away copy; otherwise the caller's storeKey silently becomes all zeros.
 */
const k = (key: Uint8Array): Uint8Array => key.slice();

/** libolm throws Error("OLM.XYZ"); map the ones protocol code must tell apart. */
function wrap<R>(fn: () => R): R {
  try {
    return fn();
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (msg.includes("UNKNOWN_MESSAGE_INDEX")) throw new BackendError("UnknownIndex", msg);
    if (msg.includes("BAD_ACCOUNT_KEY")) throw new BackendError("BadPickleKey", msg);
    if (msg.includes("BAD_SESSION_KEY") || msg.includes("INVALID_BASE64")) throw new BackendError("BadKey", msg);
    if (msg.includes("BAD_MESSAGE") || msg.includes("BAD_SIGNATURE")) throw new BackendError("BadMessage", msg);
    throw new BackendError("Other", msg);
  }
}

/** Build an object, unpickling/creating it, and free it if that step throws. */
function make<T extends { free(): void }, R>(obj: T, init: (o: T) => void, wrapFn: (o: T) => R): R {
  try {
    wrap(() => init(obj));
  } catch (e) {
    obj.free();
    throw e;
  }
  return wrapFn(obj);
}

// remove_one_time_keys needs the raw Olm.Session behind a wrapper.
const raw = new WeakMap<OlmSessionObj, Olm.Session>();

function session(s: Olm.Session): OlmSessionObj {
  const w: OlmSessionObj = {
    free: () => s.free(),
    sessionId: () => s.session_id(),
    hasReceivedMessage: () => s.has_received_message(),
    matchesInbound: (curve, body) => wrap(() => s.matches_inbound_from(curve, body)),
    encrypt: (pt) => wrap(() => s.encrypt(pt)),
    decrypt: (type, body) => wrap(() => s.decrypt(type, body)),
    pickle: (key) => s.pickle(k(key)),
  };
  raw.set(w, s);
  return w;
}

function account(a: Olm.Account): AccountObj {
  const curve = (json: string): Record<string, string> => (JSON.parse(json) as { curve25519: Record<string, string> }).curve25519;
  return {
    free: () => a.free(),
    identityKeys: () => JSON.parse(a.identity_keys()) as { curve25519: string; ed25519: string },
    sign: (m) => a.sign(m),
    maxNumberOfOneTimeKeys: () => a.max_number_of_one_time_keys(),
    generateOneTimeKeys: (n) => a.generate_one_time_keys(n),
    oneTimeKeys: () => curve(a.one_time_keys()),
    generateFallbackKey: () => a.generate_fallback_key(),
    unpublishedFallbackKey: () => curve(a.unpublished_fallback_key()),
    forgetOldFallbackKey: () => a.forget_old_fallback_key(),
    markKeysAsPublished: () => a.mark_keys_as_published(),
    createOutboundSession: (theirCurve, otk) =>
      make(new Olm.Session(), (s) => s.create_outbound(a, theirCurve, otk), session),
    createInboundSession: (theirCurve, body) =>
      make(new Olm.Session(), (s) => s.create_inbound_from(a, theirCurve, body), session),
    removeOneTimeKeys: (s) => {
      const r = raw.get(s);
      if (!r) throw new BackendError("Other", "session was not made by the olm backend");
      wrap(() => a.remove_one_time_keys(r));
    },
    pickle: (key) => a.pickle(k(key)),
  };
}

function outbound(g: Olm.OutboundGroupSession): OutboundGroupSessionObj {
  return {
    free: () => g.free(),
    sessionId: () => g.session_id(),
    sessionKey: () => g.session_key(),
    messageIndex: () => g.message_index(),
    encrypt: (pt) => g.encrypt(pt),
    pickle: (key) => g.pickle(k(key)),
  };
}

function inbound(g: Olm.InboundGroupSession): InboundGroupSessionObj {
  return {
    free: () => g.free(),
    sessionId: () => g.session_id(),
    firstKnownIndex: () => g.first_known_index(),
    decrypt: (ct) => {
      const r = wrap(() => g.decrypt(ct));
      return { messageIndex: r.message_index, plaintext: r.plaintext };
    },
    exportAt: (i) => wrap(() => g.export_session(i)),
    pickle: (key) => g.pickle(k(key)),
  };
}

const backend: CryptoBackend = {
  name: `libolm ${Olm.get_library_version?.().join(".") ?? "3"}`,
  newAccount: () => make(new Olm.Account(), (a) => a.create(), account),
  unpickleAccount: (key, p) => make(new Olm.Account(), (a) => a.unpickle(k(key), p), account),
  unpickleOlmSession: (key, p) => make(new Olm.Session(), (s) => s.unpickle(k(key), p), session),
  newOutboundGroupSession: () => make(new Olm.OutboundGroupSession(), (g) => g.create(), outbound),
  unpickleOutboundGroupSession: (key, p) => make(new Olm.OutboundGroupSession(), (g) => g.unpickle(k(key), p), outbound),
  inboundGroupSessionFromKey: (k) => make(new Olm.InboundGroupSession(), (g) => g.create(k), inbound),
  importInboundGroupSession: (k) => make(new Olm.InboundGroupSession(), (g) => g.import_session(k), inbound),
  unpickleInboundGroupSession: (key, p) => make(new Olm.InboundGroupSession(), (g) => g.unpickle(k(key), p), inbound),
  signingKeyFromSeed: (seed) => {
    const pk = new Olm.PkSigning();
    try {
      // A copy: the caller's seed stays as it was whatever libolm does with its argument.
      const publicKey = pk.init_with_seed(seed.slice());
      return { publicKey, sign: (message: string) => pk.sign(message), free: () => pk.free() };
    } catch (e) {
      pk.free();
      throw e;
    }
  },
  verifyEd25519: (publicKey, message, signature) => {
    const u = new Olm.Utility();
    try {
      u.ed25519_verify(publicKey, message, signature);
      return true;
    } catch {
      return false;
    } finally {
      u.free();
    }
  },
  pkPublicKey: (privateKey) => withPkDecryption(privateKey, (_d, publicKey) => publicKey),
  pkEncrypt: (publicKey, plaintext) => {
    const e = new Olm.PkEncryption();
    try {
      return wrap(() => {
        e.set_recipient_key(publicKey);
        const m: PkMessage = e.encrypt(plaintext);
        return { ciphertext: m.ciphertext, mac: m.mac, ephemeral: m.ephemeral };
      });
    } finally {
      e.free();
    }
  },
  pkDecrypt: (privateKey, m) => withPkDecryption(privateKey, (d) => wrap(() => d.decrypt(m.ephemeral, m.mac, m.ciphertext))),
};

/** PkDecryption from a private key (init_with_private_key zeroes nothing, but gets a copy anyway). */
function withPkDecryption<R>(privateKey: Uint8Array, fn: (d: Olm.PkDecryption, publicKey: string) => R): R {
  const d = new Olm.PkDecryption();
  try {
    const publicKey = wrap(() => d.init_with_private_key(k(privateKey)));
    return fn(d, publicKey);
  } finally {
    d.free();
  }
}
