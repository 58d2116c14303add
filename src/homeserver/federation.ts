/**
 * N stock Synapses on loopback that federate with each other over TLS, for tests, the federation
 * bench and `mxdb homeserver start --servers N` (docs/FEDERATION.md).
 *
 *   const fed = await Federation.start({ servers: 2, cuttable: true });
 *   const [a, b] = fed.servers;              // Homeserver each, server names localhost:PORT
 *   fed.cut(); ...; await fed.heal();        // a network partition and its end
 *   await fed.stop();
 *
 * Each server's name is `localhost:PORT`, PORT being where the others reach its TLS federation
 * listener (or, with `cuttable`, a proxy in front of it). Its certificate is signed by a CA made
 * for this run (./tls.ts) and trusted by every server through `federation_custom_ca_list`.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createRoom } from "../http/endpoints/rooms/create-room.js";
import { join as joinRoom } from "../http/endpoints/rooms/join.js";
import type { RegisteredUser } from "./admin.js";
import type { RateLimitMode } from "./config.js";
import { freePort } from "./process.js";
import { Homeserver, SYNAPSE_PACKAGES } from "./synapse.js";
import { CuttableProxy } from "../http/cuttable-proxy.js";
import { makeFederationCa } from "./tls.js";
import { ensureVenv } from "./venv.js";

export interface FederationStartOptions {
  /** How many servers (2 or more). */
  servers: number;
  rateLimits?: RateLimitMode;
  msc4222?: boolean;
  /** Put a CuttableProxy in front of each federation listener, so cut()/heal() work. Lives in this process. */
  cuttable?: boolean;
  /** Synapse's federation.max_long_retry_delay (default "60s"; see FederationOptions in ./config.ts). */
  maxLongRetryDelay?: string;
  /** Parent dir for the servers' dirs and the CA; default a fresh temp dir, removed by stop(). */
  dir?: string;
  /** Keep the Synapses running after this process exits (not with `cuttable`: the proxies are ours). */
  detached?: boolean;
  onProgress?: (line: string) => void;
}

/** A user on one of the servers, with the server it lives on. */
export interface FederatedUser extends RegisteredUser {
  server: Homeserver;
}

export class Federation {
  private constructor(
    readonly servers: Homeserver[],
    private readonly proxies: CuttableProxy[],
    private readonly dir: string,
    private readonly tempDir: boolean,
  ) {}

  static async start(options: FederationStartOptions): Promise<Federation> {
    if (!Number.isInteger(options.servers) || options.servers < 2) throw new Error(`mxdb: a federation needs 2 or more servers, not ${options.servers}`);
    if (options.cuttable && options.detached) throw new Error("mxdb: a cuttable federation cannot be detached (its proxies live in this process)");
    const progress = options.onProgress ?? (() => {});
    const venv = await ensureVenv({ name: "synapse", packages: SYNAPSE_PACKAGES, onProgress: progress });
    const tempDir = options.dir === undefined;
    const dir = options.dir ? resolve(options.dir) : mkdtempSync(join(tmpdir(), "mxdb-federation-"));
    mkdirSync(dir, { recursive: true });
    const names = Array.from({ length: options.servers }, (_, i) => `hs${i + 1}`);
    const proxies: CuttableProxy[] = [];
    const servers: Homeserver[] = [];
    try {
      const tls = makeFederationCa(venv.python, dir, names);
      const plans = [];
      for (const name of names) {
        const tlsPort = await freePort();
        const proxy = options.cuttable ? await CuttableProxy.start(tlsPort) : undefined;
        if (proxy) proxies.push(proxy);
        plans.push({ name, tlsPort, serverName: `localhost:${proxy ? proxy.port : tlsPort}` });
      }
      // One at a time: two Synapses starting at once on a loaded 2-core machine only slow each other.
      for (const p of plans) {
        servers.push(
          await Homeserver.start({
            dir: join(dir, p.name),
            serverName: p.serverName,
            federation: { tlsPort: p.tlsPort, tls: tls.get(p.name)!, ...(options.maxLongRetryDelay !== undefined ? { maxLongRetryDelay: options.maxLongRetryDelay } : {}) },
            rateLimits: options.rateLimits ?? "default",
            msc4222: options.msc4222 ?? false,
            detached: options.detached ?? false,
            onProgress: (line) => progress(`${p.serverName}: ${line}`),
          }),
        );
      }
      return new Federation(servers, proxies, dir, tempDir);
    } catch (error) {
      await Promise.all(servers.map((s) => s.stop()));
      await Promise.all(proxies.map((p) => p.close()));
      if (tempDir) rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /** Every server's name (`localhost:PORT`), in order. */
  get serverNames(): string[] {
    return this.servers.map((s) => s.info.serverName);
  }

  /** A network partition: no server reaches another's federation listener until heal(). Needs `cuttable`. */
  cut(): void {
    if (this.proxies.length === 0) throw new Error("mxdb: this federation was started without cuttable: true");
    for (const p of this.proxies) p.cut();
  }

  /**
   * End the partition. Synapse backs a destination off for 10 minutes after failed sends
   * (`destination_min_retry_interval`); as an operator would, we reset that backoff with the admin
   * API so each server sends what it held back now instead of minutes later.
   */
  async heal(): Promise<void> {
    for (const p of this.proxies) p.heal();
    await this.resetBackoff();
  }

  /** Every server sends to every other again now (no-op where there is no backoff). */
  async resetBackoff(): Promise<void> {
    for (const s of this.servers) {
      for (const name of this.serverNames) if (name !== s.info.serverName) await s.resetFederationConnection(name);
    }
  }

  /** Stop every server (and proxy); remove the temp dir. */
  async stop(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.stop()));
    await Promise.all(this.proxies.map((p) => p.close()));
    if (this.tempDir) rmSync(this.dir, { recursive: true, force: true });
  }

  /**
   * A private room created by `owner` on its server, every member (on any server) invited over
   * federation, joined through the owner's server, and allowed to write state (power 50).
   */
  async sharedRoom(owner: FederatedUser, members: FederatedUser[], extra: Record<string, unknown> = {}): Promise<string> {
    const users: Record<string, number> = {};
    for (const m of members) users[m.userId] = 50;
    const oc = owner.server.client(owner.accessToken);
    try {
      const { room_id } = await oc.send(createRoom, { preset: "private_chat", invite: members.map((m) => m.userId), power_level_content_override: { users }, ...extra });
      for (const m of members) {
        const mc = m.server.client(m.accessToken);
        try {
          await mc.send(joinRoom, { roomIdOrAlias: room_id, via: [owner.server.info.serverName] });
        } finally {
          await mc.close();
        }
      }
      return room_id;
    } finally {
      await oc.close();
    }
  }

  /** Register `localpart` on server `index`. */
  async registerUser(index: number, localpart: string, options: { password?: string } = {}): Promise<FederatedUser> {
    const server = this.servers[index];
    if (!server) throw new Error(`mxdb: no server ${index} in this federation`);
    return { ...(await server.registerUser(localpart, options)), server };
  }
}
