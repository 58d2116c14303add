/**
 * The harness's PostgreSQL mode (src/homeserver/postgres.ts): Synapse's data really goes to a
 * PostgreSQL cluster of its own, run as an unprivileged user on loopback with the UTF8 / C database
 * Synapse requires, and stop() leaves nothing behind (no process, no directory).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { Homeserver } from "../../src/homeserver/synapse.js";
import { pidAlive } from "../../src/homeserver/process.js";
import { Memory } from "../../src/index.js";
import { sharedRoom } from "../helpers/rooms.js";

/** One SQL query through psql over TCP on loopback, as the cluster's role. */
function sql(info: { port: number; user: string; database: string }, query: string): string {
  const res = spawnSync("psql", ["-h", "127.0.0.1", "-p", String(info.port), "-U", info.user, "-d", info.database, "-tAc", query], { encoding: "utf8" });
  assert.equal(res.status, 0, res.stderr);
  return res.stdout.trim();
}

test("Synapse on PostgreSQL: its data is in the cluster, which runs unprivileged on loopback, and stop() removes both", { timeout: 300_000 }, async () => {
  const hs = await Homeserver.start({ database: "postgres", onProgress: (l) => process.stderr.write(`# ${l}\n`) });
  const pg = hs.info.postgres!;
  try {
    assert.equal(hs.info.database, "postgres");
    assert.equal(pg.host, "127.0.0.1");
    assert.equal(existsSync(join(hs.info.dir, "homeserver.db")), false, "no SQLite file");
    // Not root: PostgreSQL refuses it, and a throwaway server has no business with it.
    assert.notEqual(statSync(pg.dir).uid, 0);
    assert.equal(Number(readFileSync(`/proc/${pg.pid}/status`, "utf8").match(/^Uid:\s+(\d+)/m)![1]) === 0, false);
    assert.deepEqual(sql(pg, "SELECT pg_encoding_to_char(encoding) || ' ' || datcollate || ' ' || datctype FROM pg_database WHERE datname = current_database()"), "UTF8 C C");
    assert.equal(sql(pg, "SHOW listen_addresses"), "127.0.0.1");
    // A memory's write lands in PostgreSQL's tables.
    const alice = await hs.registerUser(`pg-${Date.now().toString(36)}`);
    const client = hs.client(alice.accessToken);
    const room = await sharedRoom({ ...alice, client });
    const db = await Memory.open({ homeserver: hs.baseUrl, accessToken: alice.accessToken, rooms: { main: room } });
    await db.put("where", "postgres");
    await db.flush();
    await db.close();
    await client.close();
    assert.equal(sql(pg, `SELECT name FROM users WHERE name = '${alice.userId}'`), alice.userId);
    assert.equal(sql(pg, `SELECT count(*) FROM current_state_events WHERE room_id = '${room}' AND type = 'dev.opsdroid.database'`), "1");
  } finally {
    await hs.stop();
  }
  assert.equal(pidAlive(pg.pid), false, "PostgreSQL stopped");
  assert.equal(existsSync(pg.dir), false, "its directory removed");
  assert.equal(existsSync(hs.info.dir), false, "Synapse's directory removed");
});
