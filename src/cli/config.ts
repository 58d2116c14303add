/**
 * `--config FILE`: opsdroid's configuration layout (YAML or JSON), or a flat mxdb form, read into
 * Memory options. Keys are snake_case as in opsdroid:
 *
 *   connectors:                         # opsdroid: the Matrix connector
 *     matrix:
 *       homeserver: http://127.0.0.1:8008
 *       mxid: "@bot:example.org"
 *       password: ...                   # or access_token
 *       device_id: MXDBBOT              # optional
 *       rooms: { main: "#bot:example.org" }
 *   databases:
 *     matrix: { default_room: main, single_state_key: false, should_encrypt: true }
 *
 * The flat form puts the same keys at the top level (plus `store`, `trace`). opsdroid's other
 * connector and database options (nick, enable_encryption, ...) are ignored.
 */
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import type { MemoryOptions } from "../db/options.js";
import { CliError } from "./errors.js";

export type ConfigOptions = Partial<Pick<MemoryOptions, "homeserver" | "userId" | "password" | "accessToken" | "deviceId" | "rooms" | "defaultRoom" | "singleStateKey" | "shouldEncrypt" | "store" | "trace">>;

const FLAT_KEYS = ["homeserver", "mxid", "user_id", "password", "access_token", "device_id", "rooms", "default_room", "single_state_key", "should_encrypt", "store", "trace"];

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

export function loadConfig(path: string): ConfigOptions {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new CliError(`cannot read the config file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message} — check --config`);
  }
  let doc: unknown;
  try {
    // YAML 1.2 is a superset of JSON, so one parser reads both.
    doc = parseYaml(text);
  } catch (e) {
    throw new CliError(`the config file ${path} is not valid YAML or JSON: ${(e as Error).message.split("\n")[0]}`);
  }
  return configFromDocument(doc, path);
}

export function configFromDocument(doc: unknown, where = "the config"): ConfigOptions {
  if (!isObj(doc)) throw new CliError(`${where}: expected a mapping at the top level`);
  const bad = (key: string, what: string) => new CliError(`${where}: ${key} must be ${what}`);
  let connector: Obj;
  let database: Obj;
  if ("connectors" in doc || "databases" in doc) {
    connector = pickMatrix(doc.connectors, "connectors", where);
    database = pickMatrix(doc.databases, "databases", where);
  } else {
    const unknown = Object.keys(doc).filter((k) => !FLAT_KEYS.includes(k));
    if (unknown.length) throw new CliError(`${where}: unknown key${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")} (expected ${FLAT_KEYS.join(", ")}, or opsdroid's connectors/databases layout)`);
    connector = doc;
    database = doc;
  }
  const out: ConfigOptions = {};
  const s = (o: Obj, key: string): string | undefined => {
    const v = o[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "string") throw bad(key, "a string");
    return v;
  };
  const set = <K extends keyof ConfigOptions>(k: K, v: ConfigOptions[K] | undefined) => {
    if (v !== undefined) out[k] = v;
  };
  set("homeserver", s(connector, "homeserver"));
  set("userId", s(connector, "mxid") ?? s(connector, "user_id"));
  set("password", s(connector, "password"));
  set("accessToken", s(connector, "access_token"));
  set("deviceId", s(connector, "device_id"));
  if (connector.rooms !== undefined && connector.rooms !== null) {
    if (!isObj(connector.rooms) || !Object.values(connector.rooms).every((v) => typeof v === "string")) throw bad("rooms", "a mapping of names to #alias:server or !roomid");
    out.rooms = connector.rooms as Record<string, string>;
  }
  set("defaultRoom", s(database, "default_room"));
  const single = database.single_state_key;
  if (single !== undefined && single !== null) {
    if (typeof single !== "boolean" && typeof single !== "string") throw bad("single_state_key", "true, false or a state key name");
    out.singleStateKey = single;
  }
  const encrypt = database.should_encrypt;
  if (encrypt !== undefined && encrypt !== null) {
    if (typeof encrypt !== "boolean") throw bad("should_encrypt", "true or false");
    out.shouldEncrypt = encrypt;
  }
  set("store", s(database, "store"));
  set("trace", s(database, "trace"));
  return out;
}

/** opsdroid's `connectors.matrix` (a mapping), or the entry named matrix in the older list form. */
function pickMatrix(section: unknown, name: string, where: string): Obj {
  if (section === undefined || section === null) return {};
  if (Array.isArray(section)) {
    const found = section.find((e) => isObj(e) && e.name === "matrix");
    return isObj(found) ? found : {};
  }
  if (!isObj(section)) throw new CliError(`${where}: ${name} must be a mapping`);
  const m = section.matrix;
  if (m === undefined || m === null) return {};
  if (!isObj(m)) throw new CliError(`${where}: ${name}.matrix must be a mapping`);
  return m;
}
