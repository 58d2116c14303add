/**
 * `mxdb homeserver start|stop|status`: a throwaway Synapse on loopback for trying mxdb out, through
 * the same harness the tests use (src/homeserver). It runs detached, so it outlives the command;
 * its files are in $MXDB_HOME/homeserver, its users and room in $MXDB_HOME/local.json. With no
 * other homeserver configured, the memory commands use it (./connect.ts). `--servers N` starts N
 * Synapses that federate (src/homeserver/federation.ts, in $MXDB_HOME/homeserver/hs1..hsN), a user
 * on each, and one room they share (docs/FEDERATION.md).
 */
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { Federation } from "../homeserver/federation.js";
import { Homeserver, STATE_FILE } from "../homeserver/synapse.js";
import { createRoom } from "../http/endpoints/rooms/create-room.js";
import { join as joinRoom } from "../http/endpoints/rooms/join.js";
import { bool, CONNECTION, str, type Command, type Parsed } from "./args.js";
import { EXIT, UsageError } from "./errors.js";
import { paths, readJson, removeFile, slug, writeSecretJson, type LocalHomeserver, type LocalUser, type SavedSession } from "./home.js";

const out = (line: string) => process.stdout.write(`${line}\n`);
const progress = (line: string) => process.stderr.write(`mxdb: ${line}\n`);

export const LOCAL_USERS = ["mxdb", "mxdb2"];
export const LOCAL_ROOM = "mxdb";

/** The harness's view of the local homeserver(s): one in the dir, or hs1..hsN under it (--servers N). */
function attached(): Homeserver[] {
  const dir = paths.homeserverDir();
  if (existsSync(join(dir, STATE_FILE))) return [Homeserver.attach(dir)];
  if (!existsSync(dir)) return [];
  const subdirs = readdirSync(dir).filter((d) => /^hs\d+$/.test(d) && existsSync(join(dir, d, STATE_FILE)));
  return subdirs.sort((x, y) => Number(x.slice(2)) - Number(y.slice(2))).map((d) => Homeserver.attach(join(dir, d)));
}

async function allRunning(servers: Homeserver[]): Promise<boolean> {
  if (servers.length === 0) return false;
  for (const s of servers) if (!(await s.isRunning())) return false;
  return true;
}

function printLocal(local: LocalHomeserver, p: Parsed, withSecrets: boolean): void {
  if (bool(p, "json")) {
    out(JSON.stringify(withSecrets ? local : { ...local, users: local.users.map((u) => ({ userId: u.userId, deviceId: u.deviceId })) }));
    return;
  }
  for (const s of local.servers ?? [{ baseUrl: local.baseUrl, serverName: local.serverName }]) out(`homeserver: ${s.baseUrl}  (server name ${s.serverName})`);
  out(`room:       ${local.roomAlias}  (${local.roomId})`);
  for (const u of local.users) {
    const on = u.baseUrl !== undefined ? `  on ${u.baseUrl}` : "";
    out(withSecrets ? `user:       ${u.userId}  password ${u.password}  access token ${u.accessToken}  device ${u.deviceId}${on}` : `user:       ${u.userId}${on}`);
  }
}

/** Forget everything about (stopped) local homeservers: their files, users, stores, and a login on one. */
function forgetLocal(baseUrls: string[]): string[] {
  const notes: string[] = [];
  removeFile(paths.homeserverDir());
  removeFile(paths.local());
  for (const baseUrl of new Set(baseUrls)) {
    removeFile(join(paths.stores(), slug(baseUrl)));
    const session = readJson<SavedSession>(paths.session());
    if (session?.homeserver === baseUrl) {
      removeFile(paths.session());
      notes.push(`removed the saved login of ${session.userId}, which was on this homeserver`);
    }
  }
  return notes;
}

function knownUrls(known: LocalHomeserver | undefined, running: Homeserver[]): string[] {
  return [...(known?.servers?.map((s) => s.baseUrl) ?? (known ? [known.baseUrl] : [])), ...running.map((s) => s.baseUrl)];
}

/** `--servers N`: N federating Synapses, the user `mxdb` on each, and a room on the first that all share. */
async function startFederation(n: number, p: Parsed): Promise<LocalHomeserver> {
  const fed = await Federation.start({
    servers: n,
    dir: paths.homeserverDir(),
    detached: true,
    rateLimits: bool(p, "default-rate-limits") ? "default" : "lifted",
    onProgress: progress,
  });
  try {
    const users = [];
    for (let i = 0; i < n; i++) users.push(await fed.registerUser(i, "mxdb", { password: randomBytes(12).toString("hex") }));
    const [owner, ...members] = users;
    const roomId = await fed.sharedRoom(owner!, members, { room_alias_name: LOCAL_ROOM, name: "mxdb" });
    const first = fed.servers[0]!;
    return {
      baseUrl: first.baseUrl,
      serverName: first.info.serverName,
      roomAlias: `#${LOCAL_ROOM}:${first.info.serverName}`,
      roomId,
      users: users.map(({ server, ...u }) => (server === first ? u : { ...u, baseUrl: server.baseUrl })),
      servers: fed.servers.map((s) => ({ baseUrl: s.baseUrl, serverName: s.info.serverName })),
    };
  } catch (e) {
    await fed.stop();
    throw e;
  }
}

const start: Command = {
  name: "homeserver start",
  usage: "homeserver start [--servers N] [--default-rate-limits] [--json]",
  summary: "Start a throwaway Synapse on 127.0.0.1 (installed into .venv/synapse on first use), register two users, create a room, and print the URL and the users' credentials.",
  details:
    "Rate limits are lifted unless --default-rate-limits. The data lives until mxdb homeserver stop. " +
    "--servers N (2 or more) starts N Synapses named localhost:PORT that federate over TLS on loopback (a CA made at start), the user mxdb on each, and a room on the first that they share.",
  options: {
    servers: { type: "string", arg: "N", desc: "how many federating homeservers (default 1)" },
    "default-rate-limits": { type: "boolean", desc: "keep Synapse's own rate limits" },
    json: CONNECTION.json!,
  },
  async run(p) {
    const n = Number(str(p, "servers") ?? "1");
    if (!Number.isInteger(n) || n < 1 || n > 8) throw new UsageError(`--servers takes a whole number from 1 to 8, not ${JSON.stringify(str(p, "servers"))}`, "homeserver start");
    const running = attached();
    const known = readJson<LocalHomeserver>(paths.local());
    if (known && (await allRunning(running))) {
      progress(`the local homeserver is already running (${paths.homeserverDir()})`);
      printLocal(known, p, true);
      return EXIT.ok;
    }
    // A throwaway: whatever a crashed earlier run left behind is dropped.
    for (const s of running) await s.stop();
    forgetLocal(knownUrls(known, running));
    if (n > 1) {
      const local = await startFederation(n, p);
      writeSecretJson(paths.local(), local);
      progress(`${n} federating homeservers, users and room ready; state in ${paths.homeserverDir()} (mxdb homeserver stop removes it)`);
      printLocal(local, p, true);
      return EXIT.ok;
    }
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
      forgetLocal([hs.baseUrl]);
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
    const servers = attached();
    const known = readJson<LocalHomeserver>(paths.local());
    if (servers.length === 0 && !known) {
      out("no local homeserver");
      return EXIT.ok;
    }
    for (const s of servers) await s.stop();
    for (const note of forgetLocal(knownUrls(known, servers))) progress(note);
    out(`stopped the local homeserver${servers.length ? ` at ${servers.map((s) => s.baseUrl).join(", ")}` : ""}`);
    return EXIT.ok;
  },
};

const status: Command = {
  name: "homeserver status",
  usage: "homeserver status [--json]",
  summary: "Is the local homeserver running? Prints its URL, version, users and room (exit status 3 when it is not running).",
  options: { json: CONNECTION.json! },
  async run(p) {
    const servers = attached();
    const running = await allRunning(servers);
    const known = readJson<LocalHomeserver>(paths.local());
    const hs = servers[0];
    if (bool(p, "json")) {
      const each = servers.map((s) => ({ baseUrl: s.baseUrl, serverName: s.info.serverName, pid: s.info.pid }));
      out(JSON.stringify({ running, dir: paths.homeserverDir(), ...(hs ? { baseUrl: hs.baseUrl, pid: hs.info.pid, version: hs.info.version, rateLimits: hs.info.rateLimits } : {}), ...(servers.length > 1 ? { servers: each } : {}), ...(known ? { room: known.roomAlias, users: known.users.map((u) => u.userId) } : {}) }));
    } else if (!hs) {
      out(`no local homeserver in ${paths.homeserverDir()} — start one with mxdb homeserver start`);
    } else {
      for (const s of servers) out(`${(await s.isRunning()) ? "running" : "NOT running"}: Synapse ${s.info.version} at ${s.baseUrl} (${s.info.serverName}), pid ${s.info.pid}, rate limits ${s.info.rateLimits}, files in ${s.info.dir}`);
      if (known) printLocal(known, p, false);
    }
    return running ? EXIT.ok : EXIT.notFound;
  },
};

export const homeserverCommands: Command[] = [start, stop, status];
