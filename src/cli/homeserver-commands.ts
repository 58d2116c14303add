/**
 * `mxdb homeserver start|stop|status`: a throwaway Synapse on loopback for trying mxdb out, through
 * the same harness the tests use (src/homeserver). It runs detached, so it outlives the command;
 * its files are in $MXDB_HOME/homeserver, its users and room in $MXDB_HOME/local.json. With no
 * other homeserver configured, the memory commands use it (./connect.ts).
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Homeserver, STATE_FILE } from "../homeserver/synapse.js";
import { createRoom } from "../http/endpoints/rooms/create-room.js";
import { join as joinRoom } from "../http/endpoints/rooms/join.js";
import { bool, CONNECTION, type Command, type Parsed } from "./args.js";
import { EXIT } from "./errors.js";
import { paths, readJson, removeFile, slug, writeSecretJson, type LocalHomeserver, type LocalUser, type SavedSession } from "./home.js";

const out = (line: string) => process.stdout.write(`${line}\n`);
const progress = (line: string) => process.stderr.write(`mxdb: ${line}\n`);

export const LOCAL_USERS = ["mxdb", "mxdb2"];
export const LOCAL_ROOM = "mxdb";

/** The harness's view of the local homeserver, if its state file exists. */
function attached(): Homeserver | undefined {
  const dir = paths.homeserverDir();
  return existsSync(join(dir, STATE_FILE)) ? Homeserver.attach(dir) : undefined;
}

function printLocal(local: LocalHomeserver, p: Parsed, withSecrets: boolean): void {
  if (bool(p, "json")) {
    out(JSON.stringify(withSecrets ? local : { ...local, users: local.users.map((u) => ({ userId: u.userId, deviceId: u.deviceId })) }));
    return;
  }
  out(`homeserver: ${local.baseUrl}  (server name ${local.serverName})`);
  out(`room:       ${local.roomAlias}  (${local.roomId})`);
  for (const u of local.users) {
    out(withSecrets ? `user:       ${u.userId}  password ${u.password}  access token ${u.accessToken}  device ${u.deviceId}` : `user:       ${u.userId}`);
  }
}

/** Forget everything about a (stopped) local homeserver: its files, users, stores, and a login on it. */
function forgetLocal(baseUrl: string | undefined): string[] {
  const notes: string[] = [];
  removeFile(paths.homeserverDir());
  removeFile(paths.local());
  if (baseUrl !== undefined) {
    removeFile(join(paths.stores(), slug(baseUrl)));
    const session = readJson<SavedSession>(paths.session());
    if (session?.homeserver === baseUrl) {
      removeFile(paths.session());
      notes.push(`removed the saved login of ${session.userId}, which was on this homeserver`);
    }
  }
  return notes;
}

const start: Command = {
  name: "homeserver start",
  usage: "homeserver start [--default-rate-limits] [--json]",
  summary: "Start a throwaway Synapse on 127.0.0.1 (installed into .venv/synapse on first use), register two users, create a room, and print the URL and the users' credentials.",
  details: "Rate limits are lifted unless --default-rate-limits. The data lives until mxdb homeserver stop.",
  options: {
    "default-rate-limits": { type: "boolean", desc: "keep Synapse's own rate limits" },
    json: CONNECTION.json!,
  },
  async run(p) {
    const running = attached();
    const known = readJson<LocalHomeserver>(paths.local());
    if (running && known && (await running.isRunning())) {
      progress(`the local homeserver is already running (${paths.homeserverDir()})`);
      printLocal(known, p, true);
      return EXIT.ok;
    }
    // A throwaway: whatever a crashed earlier run left behind is dropped.
    if (running) await running.stop();
    forgetLocal(known?.baseUrl ?? running?.baseUrl);
    const hs = await Homeserver.start({
      dir: paths.homeserverDir(),
      detached: true,
      rateLimits: bool(p, "default-rate-limits") ? "default" : "lifted",
      onProgress: progress,
    });
    try {
      const users: LocalUser[] = [];
      // Hex passwords: nothing a shell or an option parser could misread (no leading "-").
      for (const name of LOCAL_USERS) users.push(await hs.registerUser(name, { password: randomBytes(12).toString("hex") }));
      const [owner, ...members] = users;
      const ownerClient = hs.client(owner!.accessToken);
      let roomId: string;
      try {
        // Every member may write the memory's state (power 50 = state_default in private_chat).
        const users50: Record<string, number> = {};
        for (const m of members) users50[m.userId] = 50;
        ({ room_id: roomId } = await ownerClient.send(createRoom, { preset: "private_chat", room_alias_name: LOCAL_ROOM, name: "mxdb", invite: members.map((m) => m.userId), power_level_content_override: { users: users50 } }));
      } finally {
        await ownerClient.close();
      }
      for (const m of members) {
        const c = hs.client(m.accessToken);
        try {
          await c.send(joinRoom, { roomIdOrAlias: roomId });
        } finally {
          await c.close();
        }
      }
      const local: LocalHomeserver = { baseUrl: hs.baseUrl, serverName: hs.info.serverName, roomAlias: `#${LOCAL_ROOM}:${hs.info.serverName}`, roomId, users };
      writeSecretJson(paths.local(), local);
      progress(`users and room ready; state in ${paths.homeserverDir()} (mxdb homeserver stop removes it)`);
      printLocal(local, p, true);
    } catch (e) {
      await hs.stop();
      forgetLocal(hs.baseUrl);
      throw e;
    }
    return EXIT.ok;
  },
};

const stop: Command = {
  name: "homeserver stop",
  usage: "homeserver stop",
  summary: "Stop the local homeserver and delete its data, users and the stores kept for it.",
  options: {},
  async run() {
    const hs = attached();
    const known = readJson<LocalHomeserver>(paths.local());
    if (!hs && !known) {
      out("no local homeserver");
      return EXIT.ok;
    }
    await hs?.stop();
    for (const note of forgetLocal(known?.baseUrl ?? hs?.baseUrl)) progress(note);
    out(`stopped the local homeserver${hs ? ` at ${hs.baseUrl}` : ""}`);
    return EXIT.ok;
  },
};

const status: Command = {
  name: "homeserver status",
  usage: "homeserver status [--json]",
  summary: "Is the local homeserver running? Prints its URL, version, users and room (exit status 3 when it is not running).",
  options: { json: CONNECTION.json! },
  async run(p) {
    const hs = attached();
    const running = hs ? await hs.isRunning() : false;
    const known = readJson<LocalHomeserver>(paths.local());
    if (bool(p, "json")) {
      out(JSON.stringify({ running, dir: paths.homeserverDir(), ...(hs ? { baseUrl: hs.baseUrl, pid: hs.info.pid, version: hs.info.version, rateLimits: hs.info.rateLimits } : {}), ...(known ? { room: known.roomAlias, users: known.users.map((u) => u.userId) } : {}) }));
    } else if (!hs) {
      out(`no local homeserver in ${paths.homeserverDir()} — start one with mxdb homeserver start`);
    } else {
      out(`${running ? "running" : "NOT running"}: Synapse ${hs.info.version} at ${hs.baseUrl}, pid ${hs.info.pid}, rate limits ${hs.info.rateLimits}, files in ${hs.info.dir}`);
      if (known) printLocal(known, p, false);
    }
    return running ? EXIT.ok : EXIT.notFound;
  },
};

export const homeserverCommands: Command[] = [start, stop, status];
