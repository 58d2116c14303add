/**
 * The room of scenario 5 (10,000 keys, one state event each). Synapse writes state events slowly
 * (about 10–40 a second on 2 busy cores, slower as the room's state grows), so the room is built
 * once and kept: its homeserver's data dir lives in bench/results/raw/ (git-ignored) and the
 * writing resumes where it stopped, within a time budget per run. A fresh clone builds it over one
 * or more runs; `npm run bench -- --only open --populate-seconds 3600` builds it in one go.
 *
 * No credentials are kept: the room is public with users_default power 50, so each run registers a
 * fresh user (shared-secret registration) who joins and writes.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createRoom } from "../../src/http/endpoints/rooms/create-room.js";
import { join as joinRoom } from "../../src/http/endpoints/rooms/join.js";
import { putState } from "../../src/http/endpoints/state/put-state.js";
import { EVENT_TYPE } from "../../src/db/format.js";
import { Homeserver, SYNAPSE_VERSION } from "../../src/homeserver/synapse.js";
import type { HttpClient } from "../../src/http/client.js";
import { pool } from "./env.js";

export const BIG_ROOM_DIR = join(import.meta.dirname, "..", "results", "raw", `big-room-synapse-${SYNAPSE_VERSION}`);
const META = join(BIG_ROOM_DIR, "big-room.json");
const CHUNK = 250;

interface Meta {
  roomId: string;
  /** Keys key-0 .. key-(keys-1) are written. */
  keys: number;
}

export interface BigRoom {
  hs: Homeserver;
  roomId: string;
  keys: number;
  /** Seconds spent writing keys in this run. */
  writeSeconds: number;
  /** A fresh member: its token, for the measured cold starts. */
  member: { userId: string; accessToken: string };
  close(): Promise<void>;
}

export function keyValue(i: number): Record<string, unknown> {
  return { [`key-${i}`]: { i, note: `value number ${i}` } };
}

async function member(hs: Homeserver, roomId: string | undefined): Promise<{ userId: string; accessToken: string; client: HttpClient }> {
  const u = await hs.registerUser(`open-${randomBytes(4).toString("hex")}`);
  const client = hs.client(u.accessToken);
  if (roomId) await client.send(joinRoom, { roomIdOrAlias: roomId });
  return { userId: u.userId, accessToken: u.accessToken, client };
}

/** Start the kept homeserver and write keys until `target` or `budgetSeconds`. */
export async function openBigRoom(target: number, budgetSeconds: number, log: (l: string) => void): Promise<BigRoom> {
  mkdirSync(BIG_ROOM_DIR, { recursive: true });
  const hs = await Homeserver.start({ dir: BIG_ROOM_DIR, rateLimits: "lifted", onProgress: log });
  const clients: HttpClient[] = [];
  try {
    let meta: Meta | undefined = existsSync(META) ? (JSON.parse(readFileSync(META, "utf8")) as Meta) : undefined;
    const writer = await member(hs, meta?.roomId);
    clients.push(writer.client);
    if (!meta) {
      const { room_id } = await writer.client.send(createRoom, { preset: "public_chat", power_level_content_override: { users_default: 50 } });
      meta = { roomId: room_id, keys: 0 };
      writeFileSync(META, `${JSON.stringify(meta)}\n`);
    }
    const started = Date.now();
    const deadline = started + budgetSeconds * 1000;
    while (meta.keys < target && Date.now() < deadline) {
      const from = meta.keys;
      const to = Math.min(target, from + CHUNK);
      const t = Date.now();
      // One at a time: concurrent PUTs fork the room's DAG, and Synapse then resolves state across
      // the forks at every event, which costs more the bigger the state (measured: 30 ms of
      // Synapse CPU per event at 1,000 keys, over 200 ms at 2,000; sequential stays near 30 ms).
      await pool(
        Array.from({ length: to - from }, (_, j) => from + j),
        1,
        async (i) => {
          await writer.client.send(putState, { roomId: meta!.roomId, eventType: EVENT_TYPE, stateKey: `key-${i}`, content: keyValue(i) });
        },
      );
      meta.keys = to;
      writeFileSync(META, `${JSON.stringify(meta)}\n`);
      log(`open: ${to}/${target} keys in the kept room (${((to - from) / ((Date.now() - t) / 1000)).toFixed(1)} puts/s)`);
    }
    const reader = await member(hs, meta.roomId);
    clients.push(reader.client);
    const roomId = meta.roomId;
    const keys = meta.keys;
    return {
      hs,
      roomId,
      keys,
      writeSeconds: (Date.now() - started) / 1000,
      member: { userId: reader.userId, accessToken: reader.accessToken },
      async close() {
        await Promise.all(clients.map((c) => c.close()));
        await hs.stop();
      },
    };
  } catch (e) {
    await Promise.all(clients.map((c) => c.close()));
    await hs.stop();
    throw e;
  }
}
