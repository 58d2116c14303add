/**
 * Two (or more) federating Synapses for one test file (src/homeserver/federation.ts): started in
 * before(), stopped in after(), with the run's rate-limit mode and sync path. Users are registered
 * on a chosen server and carry an HttpClient on it, like test/helpers/homeserver.ts's TestUser.
 */
import { randomBytes } from "node:crypto";
import { after, before } from "node:test";
import { Federation, type FederatedUser } from "../../src/homeserver/federation.js";
import type { Homeserver } from "../../src/homeserver/synapse.js";
import { Memory } from "../../src/index.js";
import { TEST_RATE_LIMITS, testMsc4222, type TestUser } from "./homeserver.js";

export interface FederatedTestUser extends TestUser {
  server: Homeserver;
}

export interface FederationSuite {
  readonly fed: Federation;
  /** A fresh user on server `index` (0 = A, 1 = B); after() closes its client. */
  user(index: number, prefix: string): Promise<FederatedTestUser>;
  /** A Memory of `user` on its own server; after() closes it (again: close() is idempotent). */
  memory(user: FederatedTestUser, roomId: string, extra?: Partial<Parameters<typeof Memory.open>[0]>): Promise<Memory>;
}

export function federationSuite(options: { servers?: number; cuttable?: boolean; maxLongRetryDelay?: string } = {}): FederationSuite {
  let fed: Federation | undefined;
  const users: FederatedTestUser[] = [];
  const memories = new Set<Memory>();
  before(async () => {
    fed = await Federation.start({
      servers: options.servers ?? 2,
      cuttable: options.cuttable ?? false,
      ...(options.maxLongRetryDelay !== undefined ? { maxLongRetryDelay: options.maxLongRetryDelay } : {}),
      rateLimits: TEST_RATE_LIMITS,
      msc4222: testMsc4222(),
      onProgress: (line) => process.stderr.write(`# ${line}\n`),
    });
  });
  after(async () => {
    await Promise.all([...memories].map((m) => m.close().catch(() => {})));
    await Promise.all(users.map((u) => u.client.close()));
    await fed?.stop();
  });
  const suite: FederationSuite = {
    get fed() {
      if (!fed) throw new Error("federationSuite: the federation starts in before()");
      return fed;
    },
    async user(index, prefix) {
      const u: FederatedUser = await suite.fed.registerUser(index, `${prefix}-${randomBytes(4).toString("hex")}`);
      const user = { ...u, client: u.server.client(u.accessToken) };
      users.push(user);
      return user;
    },
    async memory(user, roomId, extra = {}) {
      const m = await Memory.open({ homeserver: user.server.baseUrl, accessToken: user.accessToken, rooms: { main: roomId }, syncTimeoutMs: 5000, ...extra });
      memories.add(m);
      return m;
    },
  };
  return suite;
}
