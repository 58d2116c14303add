/**
 * Where the command line keeps its files: `$MXDB_HOME`, default `./.mxdb` (git-ignored).
 *   session.json      the saved login (homeserver, user ID, access token, device ID), mode 0600
 *   local.json        the local homeserver's users and room, mode 0600 (written by `homeserver start`)
 *   homeserver/       the local Synapse's config, data and logs
 *   store/<hs>/<user> sync tokens and room state per homeserver and user, so commands start fast
 */
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { CliError } from "./errors.js";

export function mxdbHome(): string {
  return resolve(process.env.MXDB_HOME ?? ".mxdb");
}

export const paths = {
  session: () => join(mxdbHome(), "session.json"),
  local: () => join(mxdbHome(), "local.json"),
  homeserverDir: () => join(mxdbHome(), "homeserver"),
  stores: () => join(mxdbHome(), "store"),
};

/** A directory name for a homeserver URL or user ID: readable, and unique by a short hash. */
export function slug(text: string): string {
  const readable = text.replace(/^https?:\/\//, "").replace(/[^A-Za-z0-9._-]+/g, "_").slice(0, 60);
  return `${readable}-${createHash("sha256").update(text).digest("hex").slice(0, 8)}`;
}

/** Write a JSON file only its owner can read (it holds an access token or passwords). */
export function writeSecretJson(path: string, value: unknown): void {
  mkdirSync(resolve(path, ".."), { recursive: true, mode: 0o700 });
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
}

export function readJson<T>(path: string): T | undefined {
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, "utf8")) as T;
  } catch (e) {
    throw new CliError(`cannot read ${path}: ${(e as Error).message} — fix or delete the file`);
  }
}

export function removeFile(path: string): void {
  rmSync(path, { recursive: true, force: true });
}

export interface SavedSession {
  homeserver: string;
  userId: string;
  accessToken: string;
  deviceId?: string;
  /** Default room given at login. */
  room?: string;
}

export interface LocalUser {
  userId: string;
  password: string;
  accessToken: string;
  deviceId: string;
  /** The user's homeserver when it is not the first (`mxdb homeserver start --servers N`). */
  baseUrl?: string;
}

export interface LocalHomeserver {
  baseUrl: string;
  serverName: string;
  roomAlias: string;
  roomId: string;
  users: LocalUser[];
  /** With `--servers N`: every server, the first one included (baseUrl and serverName above are its). */
  servers?: Array<{ baseUrl: string; serverName: string }>;
}
