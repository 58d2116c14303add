/**
 * What one seed means: the clients, keys, mode, server options and fault rates of a run, all drawn
 * from the seed. Sized small for `npm test`; `scale` grows the scripts for soak runs.
 */
import { NO_FAULTS, type FaultRates } from "./network.js";
import { Prng } from "./prng.js";

export interface Scenario {
  seed: number;
  singleStateKey: boolean;
  msc4222: boolean;
  /** Accounts (user IDs); processes name one each. Two processes may share an account. */
  accounts: string[];
  /** The account of each first-generation process. */
  processes: string[];
  keys: string[];
  initial: Record<string, unknown>;
  /** Steps per process script. */
  steps: number;
  faults: FaultRates;
  maxPersistMs: number;
  syncCacheMs: number;
  /** Homeserver restarts at these simulated offsets (ms). */
  restarts: number[];
  /** A process is killed at a random offset with this chance (besides the kills in scripts). */
  randomKill: number;
  /** A script kills its process the instant a flush resolves with this chance, and at any step with `killPerStep`. */
  killAfterFlush: number;
  killPerStep: number;
}

export function scenarioFor(seed: number, scale = 1): Scenario {
  const rng = new Prng(seed ^ 0x5eed);
  const users = ["@alice:sim", "@bob:sim", "@carol:sim"].slice(0, rng.pick([1, 2, 2, 3, 3]));
  const count = Math.max(2, Math.min(4, users.length + rng.int(0, 1)));
  const processes: string[] = [];
  for (let i = 0; i < count; i++) processes.push(i < users.length ? users[i]! : rng.pick(users));
  // The same account twice (same token and device) in every run with one user, and often otherwise.
  if (users.length > 1 && rng.chance(0.4)) processes[processes.length - 1] = processes[0]!;
  const keys = ["k0", "k1", "k2"].slice(0, rng.int(1, 3));
  const initial: Record<string, unknown> = {};
  for (const k of keys) if (rng.chance(0.3)) initial[k] = { w: "init", n: k };
  const faulty = rng.chance(0.75);
  const faults: FaultRates = faulty
    ? {
        maxDelayMs: rng.pick([5, 50, 400]),
        lostResponse: rng.pick([0, 0.05, 0.15]),
        duplicate: rng.pick([0, 0.05, 0.2]),
        rateLimited: rng.pick([0, 0.05, 0.2]),
        unavailable: rng.pick([0, 0.03, 0.1]),
      }
    : { ...NO_FAULTS, maxDelayMs: rng.pick([0, 20]) };
  const restarts: number[] = [];
  if (faulty && rng.chance(0.25)) restarts.push(rng.int(0, 20_000));
  return {
    seed,
    singleStateKey: rng.chance(0.6),
    msc4222: rng.chance(0.3),
    accounts: users,
    processes,
    keys,
    initial,
    steps: rng.int(2, 5) * scale,
    faults,
    maxPersistMs: rng.pick([0, 30, 300, 2000]),
    syncCacheMs: rng.chance(0.8) ? 120_000 : 0,
    restarts,
    randomKill: rng.pick([0, 0.2, 0.5]),
    killAfterFlush: 0.35,
    killPerStep: 0.05,
  };
}

export function describeScenario(s: Scenario): string {
  const f = s.faults;
  return (
    `${s.processes.length} processes (${s.processes.join(", ")}), keys ${s.keys.join(",")}, ${s.singleStateKey ? "one state key" : "per-key"}, ` +
    `${s.msc4222 ? "MSC4222 on" : "classic sync"}, sync cache ${s.syncCacheMs} ms, persist <=${s.maxPersistMs} ms, ` +
    `delay <=${f.maxDelayMs} ms, lost ${f.lostResponse}, dup ${f.duplicate}, 429 ${f.rateLimited}, 5xx ${f.unavailable}, restarts [${s.restarts.join(",")}], initial ${JSON.stringify(s.initial)}`
  );
}

/** Short tags for grouping failures: which sync path, cache, faults, mode, shared accounts. */
export function scenarioTags(s: Scenario): string[] {
  const f = s.faults;
  const faulty = f.lostResponse + f.duplicate + f.rateLimited + f.unavailable > 0 || s.restarts.length > 0;
  return [
    s.msc4222 ? "msc4222" : "classic",
    s.syncCacheMs > 0 ? "sync-cache" : "no-sync-cache",
    faulty ? "faults" : "no-faults",
    s.singleStateKey ? "one-state-key" : "per-key",
    new Set(s.processes).size < s.processes.length ? "same-account-twice" : "distinct-accounts",
  ];
}
