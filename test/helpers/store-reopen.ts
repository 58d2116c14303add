/**
 * A process that reopens a Memory on an existing store directory, for the damaged-store test: it
 * runs in a child so that an `open` that hangs can be killed at the test's bound. Configured by the
 * JSON in MXDB_REOPEN; prints one JSON line per step and exits:
 *   {"step":"opened","ms":N}  {"step":"values","values":{...}}  {"step":"put","ms":N}
 *   {"step":"error","at":"open"|"get"|"put","name":"StoreFormatError","message":"..."}
 */
import { Memory } from "../../src/index.js";

interface ReopenConfig {
  homeserver: string;
  accessToken: string;
  roomId: string;
  store: string;
  keys: string[];
  put: { key: string; value: unknown };
}

const config = JSON.parse(process.env.MXDB_REOPEN ?? "{}") as ReopenConfig;
const say = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(line)}\n`);
const fail = (at: string, e: unknown) =>
  process.stdout.write(`${JSON.stringify({ step: "error", at, name: e instanceof Error ? e.name : typeof e, message: String(e) })}\n`, () => process.exit(0));

let at = "open";
try {
  const started = Date.now();
  const db = await Memory.open({ homeserver: config.homeserver, accessToken: config.accessToken, rooms: { main: config.roomId }, store: config.store, singleStateKey: true, syncTimeoutMs: 5000 });
  say({ step: "opened", ms: Date.now() - started });
  at = "get";
  const values: Record<string, unknown> = {};
  for (const k of config.keys) values[k] = await db.get(k);
  say({ step: "values", values });
  at = "put";
  const putStarted = Date.now();
  await db.put(config.put.key, config.put.value);
  await db.flush();
  await db.close();
  process.stdout.write(`${JSON.stringify({ step: "put", ms: Date.now() - putStarted })}\n`, () => process.exit(0));
} catch (e) {
  fail(at, e);
}
