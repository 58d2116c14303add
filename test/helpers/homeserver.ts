/**
 * The real Synapse for integration tests.
 *
 * `npm test` (scripts/test.ts) starts ONE stock Synapse for the whole run (Synapse's default rate
 * limits but the per-address login one: mode "shared-address" in src/homeserver/config.ts) and passes
 * its info in MXDB_TEST_HOMESERVER (JSON); testHomeserver() attaches to it. A test file run on its
 * own (`node --import tsx --test test/integration/x.test.ts`) has no such variable, so the first
 * call starts a Synapse for this process (installing it if needed) and it is stopped at exit.
 * Tests never skip for lack of a homeserver.
 *
 * The shared homeserver must not be stopped or restarted by a test: a test that needs that (a sync
 * loop surviving a restart) starts its own with `Homeserver.start(...)` and calls `stop()` in
 * `after()`, with `{ implementation: testImplementation(), rateLimits: TEST_RATE_LIMITS, msc4222: testMsc4222(),
 * database: testDatabase() }` to match the run. On Dendrite (MXDB_TEST_DENDRITE=1) the run's homeserver is a
 * stock Dendrite monolith instead. A test that measures throughput lifts the limits for its own users only:
 * `newUser(prefix, { unlimited: true })`, with a comment saying why.
 */
import { randomBytes } from "node:crypto";
import { HttpClient } from "../../src/http/client.js";
import { Homeserver, type DatabaseMode, type HomeserverInfo } from "../../src/homeserver/synapse.js";

export { Homeserver, type HomeserverInfo };

export const TEST_HOMESERVER_ENV = "MXDB_TEST_HOMESERVER";
/** "1": the second sync path, a Synapse with MSC4222 on (set by scripts/test.ts for marked files). */
export const TEST_MSC4222_ENV = "MXDB_TEST_MSC4222";
/** "1": the run is on Dendrite (files marked `mxdb-test: dendrite-too`, or `npm test -- --dendrite`). */
export const TEST_DENDRITE_ENV = "MXDB_TEST_DENDRITE";
export const TEST_RATE_LIMITS = "shared-address" as const;
/** "postgres": Synapse on PostgreSQL (`npm test -- --postgres`, and the `postgres-too` run); else SQLite. */
export const TEST_DATABASE_ENV = "MXDB_TEST_DATABASE";

/** The database of this run's Synapses; a test that starts its own passes `database: testDatabase()`. */
export function testDatabase(): DatabaseMode {
  return process.env[TEST_DATABASE_ENV] === "postgres" ? "postgres" : "sqlite";
}

export function testMsc4222(): boolean {
  return process.env[TEST_MSC4222_ENV] === "1";
}

/** The implementation this run tests on; a test that starts its own homeserver passes it on. */
export function testImplementation(): "synapse" | "dendrite" {
  return process.env[TEST_DENDRITE_ENV] === "1" ? "dendrite" : "synapse";
}

/**
 * The `stateAfter` option for this run: a Synapse with MSC4222 on does not list it in /versions'
 * unstable_features, so "auto" would pick the classic path there; the second run forces MSC4222's
 * name ("unstable"). The stock run uses "auto", which picks classic from Synapse's /versions.
 */
export function testStateAfter(): "auto" | "unstable" {
  return testMsc4222() ? "unstable" : "auto";
}

/** The sync path the run's Synapse should end up on. */
export function expectedSyncPath(): "classic" | "msc4222" {
  return testMsc4222() ? "msc4222" : "classic";
}

let shared: Promise<Homeserver> | undefined;

/** The run's shared homeserver, or one started for this process. */
export function testHomeserver(): Promise<Homeserver> {
  shared ??= (async () => {
    const json = process.env[TEST_HOMESERVER_ENV];
    if (json) return Homeserver.fromInfo(JSON.parse(json) as HomeserverInfo);
    // Stopped by the exit hooks in src/homeserver/cleanup.ts when this process ends.
    return Homeserver.start({
      implementation: testImplementation(),
      rateLimits: TEST_RATE_LIMITS,
      msc4222: testMsc4222(),
      database: testDatabase(),
      onProgress: (line) => process.stderr.write(`# ${line}\n`),
    });
  })();
  return shared;
}

export interface TestUser {
  userId: string;
  accessToken: string;
  deviceId: string;
  password: string;
  /** An HttpClient on the user's token (its keep-alive sockets do not hold the process open). */
  client: HttpClient;
}

/** A freshly registered user (shared-secret admin registration: no login) with a unique localpart `<prefix>-<random>`. */
export async function newUser(prefix = "u", options: { admin?: boolean; unlimited?: boolean } = {}): Promise<TestUser> {
  const hs = await testHomeserver();
  const localpart = `${prefix}-${randomBytes(5).toString("hex")}`.toLowerCase();
  const user = await hs.registerUser(localpart, { admin: options.admin ?? false });
  // Only for tests that measure throughput (say why at the call).
  if (options.unlimited) await hs.liftRateLimits(user.userId);
  return { ...user, client: hs.client(user.accessToken) };
}
