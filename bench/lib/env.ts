/**
 * What every scenario gets: a running homeserver, fresh users and rooms on it, an opsdroid driver
 * on demand, the run's size settings and a progress log. Scenarios never start Synapse themselves
 * (run.ts does, once per rate-limit mode) and never leave anything running.
 */
import { randomBytes } from "node:crypto";
import type { Homeserver } from "../../src/homeserver/synapse.js";
import type { HttpClient } from "../../src/http/client.js";
import { sharedRoom } from "../../test/helpers/rooms.js";
import { startOpsdroid, type OpsdroidDriver } from "../opsdroid.js";

export interface BenchUser {
  userId: string;
  accessToken: string;
  deviceId: string;
  password: string;
  client: HttpClient;
}

export interface BenchEnv {
  hs: Homeserver;
  /** "full" for the recorded run, "quick" for a development run with small sizes. */
  size: "full" | "quick";
  log(line: string): void;
  user(prefix: string): Promise<BenchUser>;
  /** A private room made by `owner`, `members` joined with power to write state. */
  room(owner: BenchUser, members?: BenchUser[], options?: { encrypted?: boolean }): Promise<string>;
  /** opsdroid's DatabaseMatrix as `user`, on `roomId`; close it when done. */
  opsdroid(user: BenchUser, roomId: string, singleStateKey: boolean): Promise<OpsdroidDriver>;
  /** Close every HttpClient handed out. */
  close(): Promise<void>;
}

export function benchEnv(hs: Homeserver, size: "full" | "quick", log: (line: string) => void): BenchEnv {
  const clients: HttpClient[] = [];
  return {
    hs,
    size,
    log,
    async user(prefix) {
      const localpart = `${prefix}-${randomBytes(4).toString("hex")}`;
      const u = await hs.registerUser(localpart);
      const client = hs.client(u.accessToken);
      clients.push(client);
      return { ...u, client };
    },
    room(owner, members = [], options = {}) {
      return sharedRoom(owner, members, options);
    },
    opsdroid(user, roomId, singleStateKey) {
      return startOpsdroid(
        { homeserver: hs.baseUrl, user_id: user.userId, access_token: user.accessToken, device_id: user.deviceId, rooms: { main: roomId }, single_state_key: singleStateKey },
        { onProgress: log, timeoutMs: 300_000 },
      );
    },
    async close() {
      await Promise.all(clients.splice(0).map((c) => c.close()));
    },
  };
}

/** Run `fn` over `items` with at most `limit` in flight. */
export async function pool<T>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
