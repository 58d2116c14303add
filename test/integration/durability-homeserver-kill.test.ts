/**
 * Issue 10: the homeserver SIGKILLed under load and restarted on the same port and data. A writer
 * keeps putting while Synapse is gone; every put must resolve (none rejected), flush must resolve,
 * and a fresh reader's values must equal the acknowledged ones. Once into one shared state key
 * (200 puts) and once in per-key mode (sized for Synapse's default rc_message: 0.2/s, burst 10).
 */
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { pidAlive } from "../../src/homeserver/process.js";
import { Memory } from "../../src/index.js";
import { compareAcked, describeLost, durabilitySuite, readerValues, serverValues } from "../helpers/durability.js";
import { sharedRoom } from "../helpers/rooms.js";

/** Synapse stays dead this long before it is started again (plus its start-up time). */
const DOWN_MS = 20_000;

const suite = durabilitySuite();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** SIGKILL (no clean shutdown), wait DOWN_MS, start again on the same port and data; returns the outage in ms. */
async function killAndRestart(): Promise<number> {
  const hs = suite.hs;
  const pid = hs.info.pid;
  const killed = Date.now();
  process.kill(pid, "SIGKILL");
  while (pidAlive(pid)) await sleep(20);
  await hs.stopProcess();
  await sleep(DOWN_MS);
  await hs.startProcess();
  return Date.now() - killed;
}

async function underLoad(t: TestContext, singleStateKey: boolean, count: number, spacingMs: number, killAfter: number): Promise<void> {
  const [owner, alice, reader] = await suite.users("owner", "alice", "reader");
  const roomId = await sharedRoom(owner, [alice, reader]);
  const errors: string[] = [];
  const db = await Memory.open({ homeserver: suite.hs.baseUrl, accessToken: alice.accessToken, rooms: { main: roomId }, singleStateKey, syncTimeoutMs: 5000, onError: (e) => errors.push(String(e)) });
  const acked: Record<string, unknown> = {};
  const rejected: string[] = [];
  const puts: Promise<void>[] = [];
  let outage: Promise<number> | undefined;
  const started = Date.now();
  for (let i = 0; i < count; i++) {
    const key = `k-${i}`;
    const value = { by: "alice", i, single: singleStateKey };
    puts.push(db.put(key, value).then(() => void (acked[key] = value), (e: unknown) => void rejected.push(`${key}: ${String(e)}`)));
    if (i === killAfter) outage = killAndRestart();
    await sleep(spacingMs);
  }
  await Promise.all(puts);
  const putsDone = Date.now() - started;
  await db.flush();
  const flushed = Date.now() - started;
  await db.close();
  const outageMs = await outage!;
  const server = await serverValues(reader, roomId);
  const onServer = compareAcked(acked, server);
  const seen = compareAcked(acked, await readerValues(suite.hs, reader, roomId, singleStateKey));
  t.diagnostic(
    `${singleStateKey ? "one state key" : "per-key"}: ${count} puts, Synapse killed after put ${killAfter}, back after ${(outageMs / 1000).toFixed(1)} s; ` +
      `resolved ${Object.keys(acked).length}, rejected ${rejected.length}; puts settled at ${(putsDone / 1000).toFixed(1)} s, flush at ${(flushed / 1000).toFixed(1)} s; ` +
      `server ${onServer.kept}/${count}, fresh reader ${seen.kept}/${count}; onError calls ${errors.length}` +
      (rejected.length ? `; first rejection ${rejected[0]}` : "") +
      (onServer.lost.length ? `; e.g. ${describeLost(onServer, acked, server, 2)}` : ""),
  );
  assert.deepEqual(rejected, [], "no put rejected");
  assert.deepEqual({ server: onServer.lost, reader: seen.lost }, { server: [], reader: [] });
}

test("SIGKILL and restart of Synapse while 200 puts go into one state key: none rejected, all there", { timeout: 180_000 }, async (t) => {
  await underLoad(t, true, 200, 20, 100);
});

test("SIGKILL and restart of Synapse during per-key puts under default rate limits: none rejected, all there", { timeout: 180_000 }, async (t) => {
  await underLoad(t, false, 12, 200, 5);
});
