/**
 * The test homeserver's configuration. `--generate-config` writes homeserver.yaml (signing key,
 * secrets, SQLite path); we add a second config file whose top-level keys replace the generated
 * ones (Synapse merges `-c` files in order). It is written as JSON, which is valid YAML, so no
 * YAML library is needed. Patterned on Synapse's complement/demo test configs
 * (docs/PROTOCOL.md "Synapse as the test homeserver").
 */
import { join } from "node:path";
import type { TlsFiles } from "./tls.js";

/**
 * "default": Synapse's own limits. "lifted": every limiter at 9999/s (bench/ measures throughput).
 * "shared-address": Synapse's defaults except rc_login.address, for a test run where every client
 * of every test file logs in from one address (127.0.0.1) — users' clients each have their own.
 */
export type RateLimitMode = "lifted" | "default" | "shared-address";

export const GENERATED_CONFIG = "homeserver.yaml";
export const OVERRIDE_CONFIG = "mxdb-overrides.yaml";
export const LOG_CONFIG = "mxdb-log.yaml";
export const LOG_FILE = "homeserver.log";
/** Synapse's own stdout/stderr (startup banners, Python tracebacks before logging is set up). */
export const STDIO_FILE = "synapse-stdio.log";

export interface OverrideOptions {
  dir: string;
  port: number;
  serverName: string;
  sharedSecret: string;
  rateLimits: RateLimitMode;
  /** Turn on Synapse's experimental MSC4222 (`state_after` in /sync); off in a stock Synapse. */
  msc4222: boolean;
  /** Federate with other test homeservers over TLS (./federation.ts); without it, no TLS listener. */
  federation?: FederationOptions;
  /** Synapse's `database` section (PostgreSQL: ./postgres.ts); default SQLite in `dir`. */
  database?: Record<string, unknown> | undefined;
}

export interface FederationOptions {
  /** The TLS federation listener's port on 127.0.0.1 (the server name's port, or a proxy's in front of it). */
  tlsPort: number;
  tls: TlsFiles;
  /**
   * Synapse's `federation.max_long_retry_delay` (default "60s"): a transaction that failed is retried
   * within the same request after 4 s, 16 s, then this cap. A partition test shortens it so the heal
   * is seen within a second instead of up to a minute later. Unset: Synapse's default.
   */
  maxLongRetryDelay?: string;
}

/**
 * Federation between homeservers on loopback, certificates verified: Synapse refuses to send to
 * 127.0.0.0/8 and ::1 by default (ip_range_blacklist); the allowlist lets exactly loopback through
 * (it also applies to federation, as no federation_ip_range_blacklist is set). No notary servers:
 * each server fetches the others' signing keys from them directly.
 */
export function federationConfig(f: FederationOptions): Record<string, unknown> {
  return {
    tls_certificate_path: f.tls.certFile,
    tls_private_key_path: f.tls.keyFile,
    federation_verify_certificates: true,
    federation_custom_ca_list: [f.tls.caFile],
    ip_range_whitelist: ["127.0.0.1", "::1"],
    ...(f.maxLongRetryDelay !== undefined ? { federation: { max_long_retry_delay: f.maxLongRetryDelay } } : {}),
  };
}

const LIFTED = { per_second: 9999, burst_count: 9999 };

/**
 * Every limiter that a test of a busy client could hit, lifted (Synapse's defaults:
 * docs/PROTOCOL.md "Synapse as the test homeserver").
 */
export const LIFTED_RATE_LIMITS: Record<string, unknown> = {
  rc_message: LIFTED,
  rc_registration: LIFTED,
  rc_login: { address: LIFTED, account: LIFTED, failed_attempts: LIFTED },
  rc_joins: { local: LIFTED, remote: LIFTED },
  rc_joins_per_room: LIFTED,
  rc_invites: { per_room: LIFTED, per_user: LIFTED, per_issuer: LIFTED },
  rc_room_creation: LIFTED,
  rc_admin_redaction: LIFTED,
  rc_presence: { per_user: LIFTED },
  rc_key_requests: LIFTED,
  rc_media_create: LIFTED,
  rc_delayed_event_mgmt: LIFTED,
};

/** Only the per-address login limit (0.003/s, burst 5) lifted; the per-account one stays. */
export const SHARED_ADDRESS_RATE_LIMITS: Record<string, unknown> = {
  rc_login: { address: LIFTED },
};

export function overrideConfig(o: OverrideOptions): Record<string, unknown> {
  return {
    server_name: o.serverName,
    public_baseurl: `http://127.0.0.1:${o.port}/`,
    // Loopback only: tests never expose a homeserver beyond this machine.
    listeners: [
      {
        port: o.port,
        bind_addresses: ["127.0.0.1"],
        type: "http",
        tls: false,
        x_forwarded: false,
        resources: [{ names: o.federation ? ["client"] : ["client", "federation"], compress: false }],
      },
      ...(o.federation ? [{ port: o.federation.tlsPort, bind_addresses: ["127.0.0.1"], type: "http", tls: true, x_forwarded: false, resources: [{ names: ["federation"], compress: false }] }] : []),
    ],
    database: o.database ?? { name: "sqlite3", args: { database: join(o.dir, "homeserver.db") } },
    media_store_path: join(o.dir, "media_store"),
    pid_file: join(o.dir, "homeserver.pid"),
    log_config: join(o.dir, LOG_CONFIG),
    registration_shared_secret: o.sharedSecret,
    enable_registration: true,
    enable_registration_without_verification: true,
    report_stats: false,
    trusted_key_servers: [],
    ...(o.federation ? federationConfig(o.federation) : {}),
    suppress_key_server_warning: true,
    enable_authenticated_media: true,
    // Stock otherwise, as on users' servers: presence on, Synapse's own bcrypt rounds, its /sync
    // response cache (2 min), and MSC4222 only when asked for (the second sync path some tests run).
    ...(o.msc4222 ? { experimental_features: { msc4222_enabled: true } } : {}),
    ...(o.rateLimits === "lifted" ? LIFTED_RATE_LIMITS : o.rateLimits === "shared-address" ? SHARED_ADDRESS_RATE_LIMITS : {}),
  };
}

/** Python logging dictConfig: WARNING and above to a file in the dir, nothing on the console. */
export function logConfig(dir: string): Record<string, unknown> {
  return {
    version: 1,
    formatters: { precise: { format: "%(asctime)s - %(name)s - %(levelname)s - %(message)s" } },
    handlers: { file: { class: "logging.FileHandler", formatter: "precise", filename: join(dir, LOG_FILE), encoding: "utf8" } },
    loggers: { "synapse.storage.SQL": { level: "WARNING" } },
    root: { level: "WARNING", handlers: ["file"] },
    disable_existing_loggers: false,
  };
}

export function toYamlText(value: unknown): string {
  return `# written by mxdb (src/homeserver/config.ts); JSON is valid YAML\n${JSON.stringify(value, null, 2)}\n`;
}
