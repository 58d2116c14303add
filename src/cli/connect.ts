/**
 * Which homeserver, user and room a command talks to, and opening the Memory there.
 *
 * Where the settings come from, first match wins:
 *   1. --config FILE, or --homeserver URL (with --user/--password or --access-token);
 *   2. the saved login ($MXDB_HOME/session.json, from `mxdb login`);
 *   3. the local homeserver ($MXDB_HOME/local.json, from `mxdb homeserver start`): the embedded default,
 *      as its first user, in its room.
 * Then the flags override single settings (--user, --password, --access-token, --room, ...).
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Memory } from "../db/memory.js";
import type { MemoryOptions } from "../db/options.js";
import { MemoryStore } from "../store/store.js";
import { bool, str, type Parsed } from "./args.js";
import { loadConfig, type ConfigOptions } from "./config.js";
import { CliError, UsageError } from "./errors.js";
import { paths, readJson, slug, type LocalHomeserver, type SavedSession } from "./home.js";

export interface Connection extends ConfigOptions {
  homeserver: string;
  /** Where the settings came from, for whoami and error messages. */
  source: string;
}

export function resolveConnection(p: Parsed, command: string): Connection {
  let base: ConfigOptions;
  let source: string;
  const configFile = str(p, "config");
  const homeserverFlag = str(p, "homeserver");
  if (configFile !== undefined) {
    base = loadConfig(configFile);
    source = `config ${configFile}`;
  } else if (homeserverFlag !== undefined) {
    base = {};
    source = "command line";
  } else {
    const session = readJson<SavedSession>(paths.session());
    const local = readJson<LocalHomeserver>(paths.local());
    if (session) {
      base = { homeserver: session.homeserver, userId: session.userId, accessToken: session.accessToken, ...(session.deviceId ? { deviceId: session.deviceId } : {}), ...(session.room ? { defaultRoom: session.room } : {}) };
      source = `saved login ${paths.session()}`;
    } else if (local) {
      const user = local.users[0]!;
      base = { homeserver: local.baseUrl, userId: user.userId, accessToken: user.accessToken, deviceId: user.deviceId, rooms: { main: local.roomAlias }, defaultRoom: "main" };
      source = `local homeserver ${paths.homeserverDir()}`;
    } else {
      throw new CliError("no homeserver configured — run mxdb homeserver start (a local one), mxdb login, or pass --homeserver or --config");
    }
  }
  const c: ConfigOptions = { ...base };
  if (homeserverFlag !== undefined) c.homeserver = homeserverFlag;
  const user = str(p, "user");
  const password = str(p, "password") ?? (user !== undefined ? process.env.MXDB_PASSWORD : undefined);
  const token = str(p, "access-token") ?? process.env.MXDB_ACCESS_TOKEN;
  if (user !== undefined) {
    c.userId = user;
    // Another user than the saved one: the saved token is not theirs.
    if (user !== base.userId) delete c.accessToken;
  }
  if (password !== undefined) {
    c.password = password;
    if (str(p, "access-token") === undefined) delete c.accessToken;
  }
  if (token !== undefined) c.accessToken = token;
  const room = str(p, "room");
  if (room !== undefined) c.defaultRoom = room;
  const single = str(p, "single-state-key");
  if (single !== undefined) c.singleStateKey = single === "true" ? true : single === "false" ? false : single;
  const encrypt = bool(p, "encrypt");
  if (encrypt !== undefined) c.shouldEncrypt = encrypt;
  const trace = str(p, "trace");
  if (trace !== undefined) c.trace = trace;
  if (c.homeserver === undefined) throw new UsageError("no homeserver: give --homeserver URL, or homeserver in the config file", command);
  if (c.accessToken === undefined && (c.userId === undefined || c.password === undefined)) {
    throw new UsageError(`no credentials for ${c.homeserver}: give --user and --password (or MXDB_PASSWORD), or --access-token, or run mxdb login`, command);
  }
  return { ...c, homeserver: c.homeserver, source };
}

/**
 * The store directory for this homeserver and user, locked for this process. A FileStore serves one
 * process at a time, so a second command running meanwhile (a put while a watch runs) syncs into
 * memory instead.
 */
function claimStore(c: Connection): { store: MemoryOptions["store"]; release: () => void; shared?: true } {
  if (c.store !== undefined) return { store: c.store, release: () => {} };
  const who = c.userId ?? `token-${slug(c.accessToken ?? "").slice(-8)}`;
  const dir = join(paths.stores(), slug(c.homeserver), slug(who));
  const lock = `${dir}.lock`;
  mkdirSync(join(paths.stores(), slug(c.homeserver)), { recursive: true, mode: 0o700 });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(lock, String(process.pid), { flag: "wx" });
      return { store: dir, release: () => rmSync(lock, { force: true }) };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      if (lockHolderAlive(lock)) break;
      rmSync(lock, { force: true });
    }
  }
  return { store: new MemoryStore(), release: () => {}, shared: true };
}

function lockHolderAlive(lock: string): boolean {
  try {
    const pid = Number(readFileSync(lock, "utf8"));
    if (!Number.isInteger(pid) || pid <= 0) return false;
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

export interface OpenedMemory {
  memory: Memory;
  close(): Promise<void>;
}

/** Open the Memory; "syncing ..." on stderr when the first sync takes longer than a second. */
export async function openMemory(c: Connection, extra: Partial<MemoryOptions> = {}): Promise<OpenedMemory> {
  const { store, release, shared } = claimStore(c);
  // Another process holds this device's store, crypto keys included: a second copy of the same device's
  // keys must not be made, so this process does without encryption (a password login gets its own device).
  const crypto = shared && c.accessToken !== undefined ? { encryption: false } : {};
  const { source: _source, ...options } = c;
  const started = Date.now();
  const slow = setTimeout(() => process.stderr.write(`mxdb: syncing with ${c.homeserver} ...\n`), 1_000);
  let memory: Memory;
  try {
    memory = await Memory.open({ ...options, store, ...crypto, ...extra });
  } catch (e) {
    release();
    throw e;
  } finally {
    clearTimeout(slow);
  }
  if (Date.now() - started >= 1_000) process.stderr.write(`mxdb: synced in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  let closed: Promise<void> | undefined;
  return {
    memory,
    close: () => (closed ??= memory.close().finally(release)),
  };
}

