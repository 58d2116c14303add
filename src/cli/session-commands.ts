/**
 * `mxdb login`, `mxdb logout`, `mxdb whoami`: the saved session ($MXDB_HOME/session.json, mode 0600).
 * - login: https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3login
 * - whoami: https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3accountwhoami
 * - logout: https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3logout
 */
import { HttpClient } from "../http/client.js";
import { login } from "../http/endpoints/account/login.js";
import { logout } from "../http/endpoints/account/logout.js";
import { whoami } from "../http/endpoints/account/whoami.js";
import { fileTraceSink } from "../http/trace-file.js";
import { bool, CONNECTION, str, type Command, type Parsed } from "./args.js";
import { loadConfig } from "./config.js";
import { resolveConnection } from "./connect.js";
import { EXIT, UsageError } from "./errors.js";
import { paths, readJson, removeFile, writeSecretJson, type LocalHomeserver, type SavedSession } from "./home.js";

const out = (line: string) => process.stdout.write(`${line}\n`);

/** An HttpClient on `baseUrl`, tracing to --trace FILE when given. */
function client(p: Parsed, baseUrl: string, accessToken?: string): HttpClient & { done(): Promise<void> } {
  const file = str(p, "trace");
  const sink = file !== undefined ? fileTraceSink(file) : undefined;
  const http = new HttpClient({ baseUrl, ...(accessToken !== undefined ? { accessToken } : {}), ...(sink ? { trace: sink } : {}) });
  return Object.assign(http, {
    async done() {
      await http.close();
      sink?.close();
    },
  });
}

const loginCommand: Command = {
  name: "login",
  usage: "login [--homeserver URL] --user MXID --password PASSWORD [--room ROOM]",
  summary: "Log in with a password and keep the session (homeserver, user ID, access token, device ID) in $MXDB_HOME/session.json (mode 0600); later commands use it.",
  details: "Without --homeserver, the config file's or else the local homeserver's URL is used. --room sets the default room for later commands.",
  options: {
    homeserver: CONNECTION.homeserver!,
    user: CONNECTION.user!,
    password: CONNECTION.password!,
    room: { type: "string", short: "r", arg: "ROOM", desc: "default room for later commands (#alias:server or !roomid)" },
    config: { type: "string", short: "c", arg: "FILE", desc: "take homeserver, mxid and password from this opsdroid-style config" },
    trace: CONNECTION.trace!,
    json: CONNECTION.json!,
  },
  async run(p) {
    const config = str(p, "config") !== undefined ? loadConfig(str(p, "config")!) : {};
    const homeserver = str(p, "homeserver") ?? config.homeserver ?? readJson<LocalHomeserver>(paths.local())?.baseUrl;
    const user = str(p, "user") ?? config.userId;
    const password = str(p, "password") ?? process.env.MXDB_PASSWORD ?? config.password;
    if (homeserver === undefined) throw new UsageError("no homeserver: give --homeserver URL (or start a local one: mxdb homeserver start)", "login");
    if (user === undefined || password === undefined) throw new UsageError("give --user and --password (or MXDB_PASSWORD)", "login");
    const http = client(p, homeserver);
    try {
      const res = await http.send(login, { user, password, initialDeviceDisplayName: "mxdb command line" });
      const room = str(p, "room") ?? config.defaultRoom;
      const session: SavedSession = { homeserver, userId: res.user_id, accessToken: res.access_token, deviceId: res.device_id, ...(room !== undefined ? { room } : {}) };
      writeSecretJson(paths.session(), session);
      if (bool(p, "json")) out(JSON.stringify({ homeserver, userId: res.user_id, deviceId: res.device_id, session: paths.session() }));
      else out(`logged in as ${res.user_id} on ${homeserver} (device ${res.device_id}); session saved in ${paths.session()}`);
    } finally {
      await http.done();
    }
    return EXIT.ok;
  },
};

const logoutCommand: Command = {
  name: "logout",
  usage: "logout",
  summary: "Log the saved session out on the homeserver (its token stops working) and delete session.json.",
  options: { trace: CONNECTION.trace! },
  async run(p) {
    const session = readJson<SavedSession>(paths.session());
    if (!session) {
      out("no saved login");
      return EXIT.ok;
    }
    const http = client(p, session.homeserver, session.accessToken);
    try {
      await http.send(logout, undefined);
    } finally {
      await http.done();
    }
    removeFile(paths.session());
    out(`logged ${session.userId} out`);
    return EXIT.ok;
  },
};

const whoamiCommand: Command = {
  name: "whoami",
  usage: "whoami [options]",
  summary: "Show who the commands act as, on which homeserver, and where those settings come from.",
  options: { ...CONNECTION },
  async run(p) {
    const c = resolveConnection(p, "whoami");
    const http = client(p, c.homeserver, c.accessToken);
    let userId: string;
    let deviceId: string | undefined;
    try {
      if (c.accessToken !== undefined) {
        ({ user_id: userId, device_id: deviceId } = await http.send(whoami, undefined));
      } else {
        // Password credentials: log in to find out, then log that throwaway session out again.
        const res = await http.send(login, { user: c.userId!, password: c.password!, initialDeviceDisplayName: "mxdb whoami" });
        ({ user_id: userId, device_id: deviceId } = res);
        http.setAccessToken(res.access_token);
        await http.send(logout, undefined);
      }
    } finally {
      await http.done();
    }
    if (bool(p, "json")) out(JSON.stringify({ userId, deviceId, homeserver: c.homeserver, source: c.source, room: c.defaultRoom }));
    else out(`${userId} on ${c.homeserver}${deviceId ? ` (device ${deviceId})` : ""}, from the ${c.source}`);
    return EXIT.ok;
  },
};

export const sessionCommands: Command[] = [loginCommand, logoutCommand, whoamiCommand];
