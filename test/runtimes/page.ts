/**
 * The browser page of the runtime tests (headless Chromium): the smoke scenario with IndexedDB
 * stores, the Store conformance suite on IndexedDBStore, and a Memory reopened on its IndexedDB
 * store. libolm's WASM is served beside the page and given as a URL.
 */
import { IndexedDBStore, Memory } from "../../src/index.js";
import { smoke, type SmokeConfig, type SmokeUser } from "./smoke.js";
import { storeConformance } from "./store-conformance.js";

const olmWasm = new URL("/olm.wasm", (globalThis as unknown as { location: { href: string } }).location.href).href;

/** Every entry of an IndexedDBStore as stored, read through a fresh instance. */
async function rawEntries(name: string): Promise<Record<string, string>> {
  const s = new IndexedDBStore(name);
  const out: Record<string, string> = {};
  for (const k of await s.keys()) out[k] = (await s.get(k))!;
  await s.close();
  return out;
}

/** Open, write an encrypted value, close; open again on the same IndexedDB database and write and read again. */
async function reopen(config: { homeserver: string; user: SmokeUser; room: string; prefix: string }): Promise<unknown> {
  const name = `mxdb-reopen-${config.prefix}`;
  const options = () => ({ homeserver: config.homeserver, accessToken: config.user.accessToken, deviceId: config.user.deviceId, rooms: { main: config.room }, syncTimeoutMs: 2_000, olmWasm, store: new IndexedDBStore(name) });
  const first = await Memory.open(options());
  await first.put("first", { n: 1 });
  await first.close();
  const crypto = Object.entries(await rawEntries(name)).filter(([k]) => k.startsWith("crypto/"));
  const second = await Memory.open(options());
  // A new crypto account for this device would be refused: this write needs the sealed one back.
  await second.put("second", { n: 2 });
  const values = { first: await second.get("first"), second: await second.get("second") };
  await second.close();
  const stored = await rawEntries(name);
  return {
    values,
    tokenSaved: typeof stored["sync/next_batch"] === "string",
    cryptoEntries: crypto.length,
    cryptoSealed: crypto.every(([, v]) => (JSON.parse(v) as { alg?: unknown }).alg === "A256GCM"),
    plaintextPickle: crypto.some(([, v]) => v.includes("pickle")),
  };
}

Object.assign(globalThis, {
  runSmoke: (config: SmokeConfig) => smoke(config, { olmWasm, storeFor: (who: string) => new IndexedDBStore(`mxdb-smoke-${config.prefix}-${who}`) }),
  runStoreConformance: (prefix: string) => storeConformance((name) => new IndexedDBStore(name), prefix),
  runReopen: reopen,
  mxdbReady: true,
});
