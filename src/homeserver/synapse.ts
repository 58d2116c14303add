/**
 * A real Synapse for tests, benchmarks and `mxdb homeserver start`: installed into a project-local
 * venv (./venv.ts), configured for loopback and testing (./config.ts), started and stopped as a
 * child process (./process.ts), cleaned up whatever happens (./cleanup.ts).
 *
 *   const hs = await Homeserver.start({ onProgress: console.log });
 *   const alice = await hs.registerUser("alice");
 *   ...
 *   await hs.stop();
 */
import { randomBytes } from "node:crypto";
import { spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { HttpClient } from "../http/client.js";
import { resetConnection } from "../http/endpoints/admin/reset-connection.js";
import { getServerVersion } from "../http/endpoints/admin/server-version.js";
import { isMatrixError } from "../http/errors.js";
import { overrideRateLimit, readRateLimitOverride, registerWithSharedSecret, type RateLimitSetting, type RegisteredUser, type RegisterOptions } from "./admin.js";
import { disown, own, type Owned } from "./cleanup.js";
import { DENDRITE_VERSION, ensureDendrite, spawnDendrite, writeDendriteConfig } from "./dendrite.js";
import { GENERATED_CONFIG, LOG_CONFIG, LOG_FILE, logConfig, OVERRIDE_CONFIG, overrideConfig, toYamlText, type FederationOptions, type RateLimitMode } from "./config.js";
import { freePort, healthy, killAndWait, logTail, pidAlive, spawnSynapse, waitHealthy } from "./process.js";
import { Postgres, stopPostgres, synapseDatabaseConfig, type PostgresInfo } from "./postgres.js";
import { ensureVenv, ensureVenvExtras, type Venv } from "./venv.js";

export const SYNAPSE_VERSION = "1.163.2";
export const SYNAPSE_PACKAGES = [`matrix-synapse==${SYNAPSE_VERSION}`];
/** Synapse's PostgreSQL driver, added to the same venv on first use (built against the machine's libpq). */
export const SYNAPSE_POSTGRES_EXTRAS = [`matrix-synapse[postgres]==${SYNAPSE_VERSION}`, "psycopg2==2.9.10"];

/** Synapse's database: SQLite in its dir (the default), or a PostgreSQL cluster of its own (./postgres.ts). */
export type DatabaseMode = "sqlite" | "postgres";
export const STATE_FILE = "mxdb-homeserver.json";

/** Which homeserver implementation: Synapse (the default) or Dendrite (./dendrite.ts, docs/HOMESERVERS.md "Dendrite"). */
export type Implementation = "synapse" | "dendrite";

/** A Synapse admin API that the running implementation does not offer. */
export class UnsupportedByHomeserverError extends Error {
  constructor(readonly implementation: Implementation, what: string) {
    super(`mxdb: ${implementation} does not offer ${what} (docs/HOMESERVERS.md "Dendrite")`);
    this.name = "UnsupportedByHomeserverError";
  }
}

export interface HomeserverOptions {
  /** Default "synapse". */
  implementation?: Implementation;
  /** "default" (the default): Synapse's own limits, as users run it; "lifted": every limiter at 9999/s (throughput measurements); "shared-address": see config.ts. */
  rateLimits?: RateLimitMode;
  /** Turn on MSC4222 (`use_state_after` sync). Default false: a stock Synapse configuration. */
  msc4222?: boolean;
  /** "sqlite" (default) or "postgres": a throwaway PostgreSQL started for this Synapse and stopped with it. */
  database?: DatabaseMode;
  /** Data and config dir; default a fresh temp dir, removed by stop(). A given dir is kept. */
  dir?: string;
  /** Loopback port; default a free one. */
  port?: number;
  /** Default "localhost". */
  serverName?: string;
  onProgress?: (line: string) => void;
  /** Keep Synapse running after this Node process exits (see attach()). */
  detached?: boolean;
  /** A TLS federation listener (./federation.ts starts servers that federate); serverName should name its port. */
  federation?: FederationOptions;
}

/** Everything another process needs to use (or stop) this homeserver; serialisable as JSON. */
export interface HomeserverInfo {
  /** Absent in state files written before Dendrite support: Synapse. */
  implementation?: Implementation;
  baseUrl: string;
  serverName: string;
  port: number;
  dir: string;
  /** registration_shared_secret: never print it. */
  sharedSecret: string;
  pid: number;
  version: string;
  rateLimits: RateLimitMode;
  msc4222: boolean;
  database: DatabaseMode;
  /** The PostgreSQL cluster (database "postgres"); stopped and removed by stop(). */
  postgres?: PostgresInfo;
  python: string;
  configFiles: string[];
  logFile: string;
  /** The dir was created by start() and is removed by stop(). */
  tempDir: boolean;
  detached: boolean;
  /** Its TLS federation listener, when it federates. */
  federation?: FederationOptions;
}

export class Homeserver {
  private child: ChildProcess | undefined;
  private readonly http: HttpClient;
  private readonly owned: Owned | undefined;
  private adminCache: Promise<RegisteredUser> | undefined;
  /** The PostgreSQL this process started for it (database "postgres"). */
  private pg: Postgres | undefined;

  private constructor(
    private state: HomeserverInfo,
    child: ChildProcess | undefined,
    /** This process started it and must stop it (false for attach()/fromInfo()). */
    owner: boolean,
  ) {
    this.child = child;
    this.http = new HttpClient({ baseUrl: state.baseUrl });
    if (owner && !state.detached) {
      this.owned = { pid: () => (this.child ? this.state.pid : undefined), tempDir: state.tempDir ? state.dir : undefined, stop: () => this.stop() };
      own(this.owned);
    }
  }

  get info(): HomeserverInfo {
    return { ...this.state, configFiles: [...this.state.configFiles] };
  }

  get implementation(): Implementation {
    return this.state.implementation ?? "synapse";
  }

  get baseUrl(): string {
    return this.state.baseUrl;
  }

  /** Install (once) and start a Synapse; resolves when /health says OK. */
  static async start(options: HomeserverOptions = {}): Promise<Homeserver> {
    const progress = options.onProgress ?? (() => {});
    const implementation = options.implementation ?? "synapse";
    const database = options.database ?? "sqlite";
    // Refused before anything is installed or started: the Dendrite harness runs SQLite and does not federate.
    if (implementation === "dendrite" && database !== "sqlite") throw new UnsupportedByHomeserverError("dendrite", `database "${database}" in this harness (SQLite only)`);
    if (implementation === "dendrite" && options.federation) throw new UnsupportedByHomeserverError("dendrite", "federation in this harness");
    const dendrite = implementation === "dendrite" ? await ensureDendrite(progress) : undefined;
    const venvOptions = { name: "synapse", packages: SYNAPSE_PACKAGES, onProgress: progress };
    const venv = dendrite ? undefined : database === "postgres" ? await ensureVenvExtras({ ...venvOptions, extras: SYNAPSE_POSTGRES_EXTRAS }) : await ensureVenv(venvOptions);
    const tempDir = options.dir === undefined;
    const dir = options.dir ? resolve(options.dir) : mkdtempSync(join(tmpdir(), `mxdb-${implementation}-`));
    let pg: Postgres | undefined;
    try {
      if (database === "postgres") pg = await Postgres.start({ onProgress: progress, detached: options.detached });
      mkdirSync(dir, { recursive: true });
      const serverName = options.serverName ?? "localhost";
      const rateLimits = options.rateLimits ?? "default";
      const msc4222 = options.msc4222 ?? false;
      const sharedSecret = randomBytes(24).toString("hex");
      if (venv && !existsSync(join(dir, GENERATED_CONFIG))) generateConfig(venv, dir, serverName);
      if (dendrite && msc4222) throw new Error("mxdb: Dendrite has no MSC4222 (state_after) to turn on");
      // A given port is used as is; a free port could be taken between asking and binding, so retry then.
      for (let attempt = 1; ; attempt++) {
        const port = options.port ?? (await freePort());
        const federation = options.federation;
        const configFiles = dendrite
          ? [writeDendriteConfig(dendrite, { dir, serverName, sharedSecret, rateLimits })]
          : writeOverrides(dir, { port, serverName, sharedSecret, rateLimits, msc4222, ...(federation ? { federation } : {}), database: pg && synapseDatabaseConfig(pg.info) });
        const info: HomeserverInfo = {
          implementation, baseUrl: `http://127.0.0.1:${port}`, serverName, port, dir, sharedSecret, pid: 0, version: "", rateLimits, msc4222, database, ...(pg ? { postgres: pg.info } : {}),
          python: dendrite ? dendrite.bin("dendrite") : venv!.python, configFiles, logFile: join(dir, dendrite ? "dendrite.log" : LOG_FILE), tempDir, detached: options.detached ?? false,
          ...(federation ? { federation } : {}),
        };
        const hs = new Homeserver(info, undefined, true);
        try {
          hs.pg = pg;
          await hs.startProcess(progress);
          return hs;
        } catch (error) {
          await hs.stopProcess();
          if (hs.owned) disown(hs.owned);
          await hs.http.close();
          if (options.port !== undefined || attempt >= 3 || !/address already in use/i.test(String(error))) throw error;
        }
      }
    } catch (error) {
      await pg?.stop();
      if (tempDir) rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /** Use a homeserver started by another process (from its `<dir>/mxdb-homeserver.json`). */
  static attach(dir: string): Homeserver {
    const path = join(resolve(dir), STATE_FILE);
    if (!existsSync(path)) throw new Error(`mxdb: no homeserver state file at ${path}`);
    return new Homeserver(JSON.parse(readFileSync(path, "utf8")) as HomeserverInfo, undefined, false);
  }

  /** Use a running homeserver described by `info` (e.g. the test run's shared one). stop() is not called by non-owners. */
  static fromInfo(info: HomeserverInfo): Homeserver {
    return new Homeserver({ ...info }, undefined, false);
  }

  /** Start Synapse on this instance's port and data (first start, or again after stopProcess()). */
  async startProcess(onProgress: (line: string) => void = () => {}): Promise<void> {
    const dendrite = this.implementation === "dendrite";
    if (this.state.pid && pidAlive(this.state.pid) && (await healthy(this.http, undefined, dendrite))) return;
    const started = Date.now();
    const { python, dir, configFiles, detached, port } = this.state;
    const child = dendrite ? spawnDendrite({ binary: python, dir, config: configFiles[0]!, port, detached }) : spawnSynapse({ python, dir, configFiles, detached });
    if (child.pid === undefined) throw new Error(`mxdb: could not spawn ${this.state.python}`);
    this.child = child;
    this.state.pid = child.pid;
    await waitHealthy(this.http, child, this.state.dir, undefined, dendrite);
    // Dendrite has no server_version admin API; the build is pinned.
    if (dendrite) this.state.version ||= DENDRITE_VERSION;
    if (!this.state.version) {
      // e.g. "1.163.2" or "1.163.2 (b=main,abc123)": Synapse appends git info when it finds a checkout above its files.
      const { server_version } = await this.http.send(getServerVersion, undefined);
      this.state.version = server_version.split(" ")[0] ?? server_version;
    }
    onProgress(`${dendrite ? "Dendrite" : "Synapse"} ${this.state.version} ready at ${this.state.baseUrl} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    this.writeStateFile();
  }

  /** Stop the Synapse process but keep its data and port, for restart tests. */
  async stopProcess(): Promise<void> {
    const pid = this.state.pid;
    if (pid) await killAndWait(pid, this.child);
    this.child = undefined;
  }

  /** Stop Synapse (then its PostgreSQL) and remove its temp dir (a caller-given dir is kept). */
  async stop(): Promise<void> {
    await this.stopProcess();
    if (this.pg) await this.pg.stop();
    else if (this.state.postgres) await stopPostgres(this.state.postgres);
    if (this.owned) disown(this.owned);
    await this.http.close();
    if (this.state.tempDir) rmSync(this.state.dir, { recursive: true, force: true });
    else rmSync(join(this.state.dir, STATE_FILE), { force: true });
  }

  /** The process is alive and /health answers OK. */
  async isRunning(): Promise<boolean> {
    return this.state.pid > 0 && pidAlive(this.state.pid) && (await healthy(this.http, AbortSignal.timeout(2_000), this.implementation === "dendrite"));
  }

  /** Register a user through the admin API (shared secret). Fails with M_USER_IN_USE if taken. */
  registerUser(localpart: string, options: RegisterOptions = {}): Promise<RegisteredUser> {
    return registerWithSharedSecret(this.http, this.state.sharedSecret, localpart, options);
  }

  /** One admin user per instance, registered on first use. */
  adminUser(): Promise<RegisteredUser> {
    this.adminCache ??= this.registerUser(`mxdb-admin-${randomBytes(4).toString("hex")}`, { admin: true });
    return this.adminCache;
  }

  /** Override rc_message for one user (e.g. Synapse's default {0.2/s, burst 10} can't be set: whole numbers only). */
  overrideRateLimit(adminToken: string, userId: string, limit: RateLimitSetting): Promise<RateLimitSetting> {
    if (this.implementation === "dendrite") return Promise.reject(new UnsupportedByHomeserverError("dendrite", "per-user rate-limit overrides (start it with rateLimits: \"lifted\")"));
    return overrideRateLimit(this.http, adminToken, userId, limit);
  }

  /**
   * No rate limits for this one user: Synapse skips every per-user limiter (rc_message, joins, room
   * creation, ...) when the user's override has messages_per_second 0. Login and registration are
   * limited per address, not per user, so they stay limited.
   */
  async liftRateLimits(userId: string): Promise<void> {
    // Dendrite has no per-user override: only a server started with its limiter off ("lifted") qualifies.
    if (this.implementation === "dendrite" && this.state.rateLimits === "lifted") return;
    const admin = await this.adminUser();
    await this.overrideRateLimit(admin.accessToken, userId, { messagesPerSecond: 0, burstCount: 0 });
  }

  /**
   * Send to `destination` (another server's name) again now: Synapse backs off a destination for
   * 10 minutes after failed sends, so after a healed partition the queue would otherwise wait.
   * False when there was no backoff (or the destination is unknown).
   */
  async resetFederationConnection(destination: string): Promise<boolean> {
    if (this.implementation === "dendrite") throw new UnsupportedByHomeserverError("dendrite", "the federation connection reset admin API");
    const admin = await this.adminUser();
    const client = this.client(admin.accessToken);
    try {
      await client.send(resetConnection, { destination });
      return true;
    } catch (error) {
      if (isMatrixError(error) && (error.status === 400 || error.status === 404)) return false;
      throw error;
    } finally {
      await client.close();
    }
  }

  readRateLimitOverride(adminToken: string, userId: string): Promise<RateLimitSetting | undefined> {
    if (this.implementation === "dendrite") return Promise.reject(new UnsupportedByHomeserverError("dendrite", "per-user rate-limit overrides"));
    return readRateLimitOverride(this.http, adminToken, userId);
  }

  /** An HttpClient on this homeserver, with a user's token if given. Close it when done. */
  client(accessToken?: string): HttpClient {
    return new HttpClient({ baseUrl: this.state.baseUrl, ...(accessToken !== undefined ? { accessToken } : {}) });
  }

  /** The tail of Synapse's logs, for failure messages. */
  logTail(lines = 25): string {
    return logTail(this.state.dir, lines);
  }

  private writeStateFile(): void {
    const path = join(this.state.dir, STATE_FILE);
    writeFileSync(path, `${JSON.stringify(this.state, null, 2)}\n`, { mode: 0o600 });
    chmodSync(path, 0o600);
  }
}

function generateConfig(venv: Venv, dir: string, serverName: string): void {
  const args = ["-m", "synapse.app.homeserver", "--server-name", serverName, "--config-path", join(dir, GENERATED_CONFIG), "--generate-config", "--report-stats=no", "--data-directory", dir, "--config-directory", dir];
  const res = spawnSync(venv.python, args, { cwd: dir, encoding: "utf8" });
  if (res.status !== 0) throw new Error(`mxdb: synapse --generate-config failed (${res.status ?? res.signal}):\n${res.stdout}${res.stderr}`);
}

function writeOverrides(dir: string, o: { port: number; serverName: string; sharedSecret: string; rateLimits: RateLimitMode; msc4222: boolean; federation?: FederationOptions; database: Record<string, unknown> | undefined }): string[] {
  writeFileSync(join(dir, LOG_CONFIG), toYamlText(logConfig(dir)));
  // Holds the shared secret: owner-only.
  writeFileSync(join(dir, OVERRIDE_CONFIG), toYamlText(overrideConfig({ dir, ...o })), { mode: 0o600 });
  return [join(dir, GENERATED_CONFIG), join(dir, OVERRIDE_CONFIG)];
}
