/**
 * A throwaway PostgreSQL for Synapse (the database production Synapses run on): the machine's
 * PostgreSQL binaries (Debian's `postgresql`, installed with apt-get when missing), a cluster made
 * with initdb in a fresh temp dir, run as an unprivileged user (postgres refuses root), listening on
 * 127.0.0.1 and a free port only, one database created UTF8 with C collation as Synapse requires.
 * Synapse's side: https://element-hq.github.io/synapse/latest/postgres.html
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, chownSync, closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { disown, own, type Owned } from "./cleanup.js";
import { freePort, killAndWait, pidAlive } from "./process.js";

/** The database role and database Synapse uses (local trust auth: loopback only, thrown away after). */
export const PG_USER = "synapse";
export const PG_DATABASE = "synapse";
/** The unprivileged account postgres runs as when we are root. */
export const PG_OS_USER = "nobody";

/** What Synapse (and another process) needs to reach or stop it; serialisable. */
export interface PostgresInfo {
  host: "127.0.0.1";
  port: number;
  user: string;
  database: string;
  /** Temp dir holding the cluster (`data/`), its socket and its log; removed by stop. */
  dir: string;
  pid: number;
  /** The PostgreSQL major version that runs it, e.g. "15". */
  version: string;
}

const BINARIES = ["initdb", "postgres", "createdb"] as const;

/** A directory holding all of BINARIES: Debian's /usr/lib/postgresql/<major>/bin (newest first), then $PATH. */
function findBinDir(): string | undefined {
  const debian = "/usr/lib/postgresql";
  const versioned = existsSync(debian)
    ? readdirSync(debian)
        .filter((v) => /^\d+$/.test(v))
        .sort((a, b) => Number(b) - Number(a))
        .map((v) => join(debian, v, "bin"))
    : [];
  const path = (process.env.PATH ?? "").split(":").filter((d) => d !== "");
  return [...versioned, ...path].find((dir) => BINARIES.every((b) => existsSync(join(dir, b))));
}

/** Debian's packages: the server, and libpq-dev for building psycopg2 (Synapse's driver) when pip has to. */
function aptInstall(packages: string[], progress: (line: string) => void): void {
  const [cmd, ...pre] = process.getuid?.() === 0 ? ["apt-get"] : ["sudo", "-n", "apt-get"];
  const apt = (...args: string[]) => spawnSync(cmd!, [...pre, ...args], { encoding: "utf8", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  progress(`installing ${packages.join(" ")} with apt-get ...`);
  let out = apt("install", "-y", "--no-install-recommends", ...packages);
  if (out.status !== 0) {
    apt("update");
    out = apt("install", "-y", "--no-install-recommends", ...packages);
  }
  if (out.status !== 0) throw new Error(`mxdb: could not install ${packages.join(" ")} with apt-get:\n${(out.stderr ?? "").slice(-2000)}`);
}

/** PostgreSQL's binaries, installed from Debian's packages when the machine has none. */
export function ensurePostgresInstalled(progress: (line: string) => void = () => {}): string {
  let dir = findBinDir();
  if (dir && existsSync("/usr/bin/pg_config")) return dir;
  aptInstall(["postgresql", "libpq-dev"], progress);
  dir = findBinDir();
  if (!dir) throw new Error("mxdb: PostgreSQL installed, but initdb, postgres and createdb are not in /usr/lib/postgresql/*/bin or $PATH");
  return dir;
}

/** uid and gid of PG_OS_USER from /etc/passwd (no shell-out, no user created). */
function osUser(): { uid: number; gid: number } {
  const line = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .find((l) => l.startsWith(`${PG_OS_USER}:`));
  const [, , uid, gid] = line?.split(":") ?? [];
  if (uid === undefined || gid === undefined) throw new Error(`mxdb: no user ${PG_OS_USER} in /etc/passwd to run PostgreSQL as (it refuses to run as root)`);
  return { uid: Number(uid), gid: Number(gid) };
}

function run(bin: string, args: string[], as: { uid: number; gid: number } | undefined, cwd: string): { ok: boolean; output: string } {
  const res = spawnSync(bin, args, { cwd, encoding: "utf8", ...(as ?? {}), env: { ...process.env, LC_ALL: "C" } });
  return { ok: res.status === 0, output: `${res.stdout ?? ""}${res.stderr ?? ""}${res.error ? String(res.error) : ""}` };
}

export class Postgres {
  private readonly owned: Owned | undefined;

  private constructor(
    readonly info: PostgresInfo,
    private child: ChildProcess | undefined,
    detached: boolean,
  ) {
    // A detached one (`mxdb homeserver start`) outlives this process, as its Synapse does.
    if (child && !detached) {
      this.owned = { pid: () => (this.child ? this.info.pid : undefined), tempDir: info.dir, stop: () => this.stop() };
      own(this.owned);
    }
  }

  /** initdb, start on 127.0.0.1:<free port>, createdb; resolves when the database takes connections. */
  static async start(options: { onProgress?: (line: string) => void; detached?: boolean } = {}): Promise<Postgres> {
    const progress = options.onProgress ?? (() => {});
    const started = Date.now();
    const bin = ensurePostgresInstalled(progress);
    const as = process.getuid?.() === 0 ? osUser() : undefined;
    const dir = mkdtempSync(join(tmpdir(), "mxdb-postgres-"));
    let child: ChildProcess | undefined;
    try {
      chmodSync(dir, 0o700);
      if (as) chownSync(dir, as.uid, as.gid);
      const data = join(dir, "data");
      // C collation and ctype, UTF8: what Synapse requires of its database.
      const init = run(join(bin, "initdb"), ["-D", data, "-U", PG_USER, "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"], as, dir);
      if (!init.ok) throw new Error(`mxdb: initdb failed:\n${init.output.slice(-2000)}`);
      const port = await freePort();
      const log = openSync(join(dir, "postgres.log"), "a");
      if (as) chownSync(join(dir, "postgres.log"), as.uid, as.gid);
      // Loopback TCP and a socket in our own dir only; nothing else on the machine is touched.
      child = spawn(join(bin, "postgres"), ["-D", data, "-h", "127.0.0.1", "-p", String(port), "-k", dir], { cwd: dir, stdio: ["ignore", log, log], detached: options.detached ?? false, ...(as ?? {}) });
      closeSync(log);
      // Does not hold this process open: stop() or the exit hooks (./cleanup.ts) end it, as for Synapse.
      child.unref();
      if (child.pid === undefined) throw new Error(`mxdb: could not spawn ${join(bin, "postgres")}`);
      const version = readFileSync(join(data, "PG_VERSION"), "utf8").trim();
      const pg = new Postgres({ host: "127.0.0.1", port, user: PG_USER, database: PG_DATABASE, dir, pid: child.pid, version }, child, options.detached ?? false);
      const deadline = Date.now() + 30_000;
      for (;;) {
        const made = run(join(bin, "createdb"), ["-h", "127.0.0.1", "-p", String(port), "-U", PG_USER, "-E", "UTF8", "--lc-collate=C", "--lc-ctype=C", "-T", "template0", PG_DATABASE], as, dir);
        if (made.ok) break;
        // "the database system is starting up" / connection refused until the postmaster listens.
        if (child.exitCode !== null || Date.now() > deadline) {
          await pg.stop();
          throw new Error(`mxdb: PostgreSQL did not start: ${made.output.slice(-500)}\n${logTailOf(dir)}`);
        }
        await new Promise((r) => setTimeout(r, 200));
      }
      progress(`PostgreSQL ${version} ready at 127.0.0.1:${port} (as ${as ? PG_OS_USER : "this user"}) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      return pg;
    } catch (error) {
      if (child?.pid !== undefined && pidAlive(child.pid)) await killAndWait(child.pid, child);
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /** Synapse's `database` section for this cluster (https://element-hq.github.io/synapse/latest/postgres.html). */
  synapseConfig(): Record<string, unknown> {
    return synapseDatabaseConfig(this.info);
  }

  /** Fast shutdown (SIGINT: abort open transactions, checkpoint, exit), then remove the dir. */
  async stop(): Promise<void> {
    await stopPostgres(this.info, this.child);
    this.child = undefined;
    if (this.owned) disown(this.owned);
  }
}

export function synapseDatabaseConfig(info: PostgresInfo): Record<string, unknown> {
  return { name: "psycopg2", args: { user: info.user, host: info.host, port: info.port, database: info.database, cp_min: 1, cp_max: 10 } };
}

/** Stop a cluster by its info (also one started by another process) and remove its dir. */
export async function stopPostgres(info: PostgresInfo, child?: ChildProcess): Promise<void> {
  if (info.pid && pidAlive(info.pid)) {
    try {
      process.kill(info.pid, "SIGINT");
    } catch {
      // already gone
    }
    await killAndWait(info.pid, child, 15_000);
  }
  rmSync(info.dir, { recursive: true, force: true });
}

function logTailOf(dir: string): string {
  try {
    return readFileSync(join(dir, "postgres.log"), "utf8").split("\n").slice(-15).join("\n");
  } catch {
    return "";
  }
}
