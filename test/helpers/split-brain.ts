/**
 * A split brain on two federating Synapses (test/helpers/federation.ts with cuttable proxies):
 * federation is cut, writers on both sides put conflicting keys (the same key on both sides) and
 * non-conflicting ones (their own), one writer exits before the heal, then federation heals and we
 * wait until both servers hold the same state. A seed chooses the schedule. Every value carries
 * its writer and seed ({by, i, seed}), so no value can pass for another.
 */
import { randomBytes } from "node:crypto";
import { EVENT_TYPE, jsonEqual } from "../../src/db/format.js";
import { getAllState } from "../../src/http/endpoints/state/get-all-state.js";
import { getEvent } from "../../src/http/endpoints/events/get-event.js";
import { send } from "../../src/http/endpoints/events/send.js";
import type { Memory } from "../../src/index.js";
import { Prng } from "../sim/prng.js";
import { serverValues } from "./durability.js";
import type { FederatedTestUser, FederationSuite } from "./federation.js";
import { eventually } from "./wait.js";

export interface SplitBrainRun {
  seed: number;
  singleStateKey: boolean;
  /** ms from heal() until both servers held each other's marker and the same memory state. */
  convergenceMs: number;
  /** Ops lost at that moment, before the live writers' late-fork merge had landed (it may have already). */
  lostAtConvergence: number;
  /** ms from heal() until the live writers' flushes had verified the merge and no op was lost (or 60 s passed). */
  mergedMs: number;
  /** Every acknowledged op (a writer's last value of a key, acknowledged by flush()). */
  total: number;
  /** On the server as acknowledged. */
  kept: number;
  /** Replaced by a concurrent op on the same key from another writer (the guarantee's "one wins"). */
  outvoted: string[];
  /** Neither: acknowledged and gone. "writer key: acked X, server Y". */
  lost: string[];
  /** Lost ops per writer, e.g. { a: 6, b: 0, c: 0 }. */
  lostBy: Record<string, number>;
  /** key -> value on server A and on server B after convergence. */
  onA: Record<string, unknown>;
  onB: Record<string, unknown>;
}

const SHARED_KEYS = 6;
const ROUNDS = 3;

/**
 * One run. Writers: `a` (server A), `b` and `c` (server B; `c` exits before the heal). Each does
 * ROUNDS rounds of a few puts then flush(), all while the servers cannot reach each other.
 */
export async function splitBrainRun(suite: FederationSuite, seed: number, singleStateKey: boolean): Promise<SplitBrainRun> {
  const prng = new Prng(seed);
  const alice = await suite.user(0, "a");
  const bob = await suite.user(1, "b");
  const carol = await suite.user(1, "c");
  const roomId = await suite.fed.sharedRoom(alice, [bob, carol]);
  const writers: Array<{ name: string; user: FederatedTestUser; db: Memory }> = [];
  for (const [name, user] of [["a", alice], ["b", bob], ["c", carol]] as const) writers.push({ name, user, db: await suite.memory(user, roomId, { singleStateKey }) });
  // Federation works before the cut: every writer sees a first value.
  await writers[0]!.db.put("before-cut", { seed });
  await writers[0]!.db.flush();
  // Lifted for the writers: under rc_message (0.2/s, burst 10) a round of per-key puts takes 12 to
  // 25 s, and the file would run past its few minutes; what is checked here is the merge, not the limiter.
  for (const w of writers) await w.user.server.liftRateLimits(w.user.userId);
  for (const w of writers) await eventually(() => w.db.get("before-cut"), (v) => v !== undefined, 60_000);

  suite.fed.cut();
  // acked[writer][key]: the writer's last value of the key, once flush() has resolved after it.
  const acked: Record<string, Record<string, unknown>> = { a: { "before-cut": { seed } }, b: {}, c: {} };
  let counter = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const rounds = writers.map(async (w) => {
      const ops = prng.int(3, 8);
      const puts: Array<[string, unknown, Promise<void>]> = [];
      for (let i = 0; i < ops; i++) {
        const key = prng.chance(0.35) ? `shared-${prng.int(0, SHARED_KEYS - 1)}` : `${w.name}-${prng.int(0, 9)}`;
        const value = { by: w.name, i: counter++, seed };
        puts.push([key, value, w.db.put(key, value)]);
      }
      for (const [, , p] of puts) await p;
      await w.db.flush();
      for (const [key, value] of puts) acked[w.name]![key] = value;
    });
    await Promise.all(rounds);
  }
  // The exiting writer: its last flush() has returned, it closes and is gone before the heal.
  await writers[2]!.db.close();

  const healed = Date.now();
  await suite.fed.heal();
  // A marker message on each side, sent after the heal: its prev_events are that side's latest
  // events, so once the other server has it, it has that side's whole fork (or its state).
  const markers = await Promise.all([alice, bob].map(async (u) => (await u.client.send(send, { roomId, eventType: "m.room.message", txnId: randomBytes(8).toString("hex"), content: { msgtype: "m.notice", body: "healed" } })).event_id));
  const converged = async () => {
    for (const u of [alice, bob]) for (const eventId of markers) if (!(await hasEvent(u, roomId, eventId))) return false;
    const [sa, sb] = await Promise.all([memoryStateIds(alice, roomId), memoryStateIds(bob, roomId)]);
    return jsonEqual(sa, sb);
  };
  if (!(await eventually(converged, (ok) => ok, 120_000, 100))) throw new Error(`seed ${seed}: the servers did not converge within 120 s of the heal`);
  const convergenceMs = Date.now() - healed;
  const lostAtConvergence = tally(acked, await serverValues(alice, roomId)).lost.length;
  // The live writers merge the side that lost state resolution back (docs/DURABILITY.md "Late
  // forks"): wait until their flushes have verified it and both servers hold the same state again.
  const settled = async () => {
    await Promise.all([writers[0]!.db.flush(), writers[1]!.db.flush()]);
    if (!(await converged())) return undefined;
    const [a, b] = await Promise.all([serverValues(alice, roomId), serverValues(bob, roomId)]);
    return jsonEqual(a, b) && tally(acked, a).lost.length === 0 ? a : undefined;
  };
  await eventually(settled, (v) => v !== undefined, 60_000, 250);
  const mergedMs = Date.now() - healed;
  const [onA, onB] = await Promise.all([serverValues(alice, roomId), serverValues(bob, roomId)]);
  const { total, kept, outvoted, lost } = tally(acked, onA);
  const lostBy = Object.fromEntries(Object.keys(acked).map((w) => [w, lost.filter((l) => l.startsWith(`${w} `)).length]));
  return { seed, singleStateKey, convergenceMs, lostAtConvergence, mergedMs, total, kept, outvoted, lost, lostBy, onA, onB };
}

/** Each acknowledged op: on the server as acknowledged, outvoted by another writer's op on its key, or lost. */
function tally(acked: Record<string, Record<string, unknown>>, onServer: Record<string, unknown>): { total: number; kept: number; outvoted: string[]; lost: string[] } {
  let total = 0;
  let kept = 0;
  const outvoted: string[] = [];
  const lost: string[] = [];
  for (const [name, ops] of Object.entries(acked)) {
    for (const [key, value] of Object.entries(ops)) {
      total++;
      if (jsonEqual(onServer[key], value)) kept++;
      else if (Object.entries(acked).some(([other, o]) => other !== name && key in o && jsonEqual(onServer[key], o[key]))) outvoted.push(`${name} ${key}`);
      else lost.push(`${name} ${key}: acked ${JSON.stringify(value)}, server ${JSON.stringify(onServer[key])}`);
    }
  }
  return { total, kept, outvoted, lost };
}

async function hasEvent(user: FederatedTestUser, roomId: string, eventId: string): Promise<boolean> {
  try {
    await user.client.send(getEvent, { roomId, eventId }, { retry: false });
    return true;
  } catch {
    return false;
  }
}

/** state_key -> event ID of our type in the server's current state. */
async function memoryStateIds(user: FederatedTestUser, roomId: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await user.client.send(getAllState, { roomId })) if (e.type === EVENT_TYPE) out[e.state_key ?? ""] = e.event_id;
  return out;
}
