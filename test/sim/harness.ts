/**
 * One simulated run: build the scenario of a seed, open real Memory instances against the
 * SimServer through the scheduler, play each process's random script (puts and deletes with unique
 * values, some awaited, flushes, kills — also the instant a flush resolves — and restarts with the
 * kept store or none), quiesce, and check the durability property on the final homeserver state.
 */
import { createHash } from "node:crypto";
import { Memory } from "../../src/db/memory.js";
import { MemoryStore } from "../../src/store/store.js";
import { checkDurability, initId, valueIndex, type History, type OpRecord, type Violation } from "./checker.js";
import { SimNetwork } from "./network.js";
import { Prng } from "./prng.js";
import { describeScenario, scenarioFor, scenarioTags, type Scenario } from "./scenario.js";
import { Scheduler } from "./scheduler.js";
import { SimServer } from "./server.js";
import { canonical, stateKeyOf } from "./room-model.js";

export const ROOM_ID = "!memory:sim";
const EVENT_TYPE = "dev.opsdroid.database";
/** Simulated time a run may take before whatever is still waiting counts as hung. */
const RUN_LIMIT_MS = 30 * 60_000;

/**
 * The keys changed by each state event whose writer was killed before a flush after it resolved:
 * its own ops, or changes it dropped because it had built on an old picture.
 */
function orphanedWrites(hs: SimServer, net: SimNetwork, flushedAt: Map<string, number[]>, killedAt: Map<string, number>): Set<string>[] {
  const room = hs.rooms.get(ROOM_ID)!;
  const out: Set<string>[] = [];
  for (const [eventId, { owner, at }] of net.eventOwner) {
    const killed = killedAt.get(owner);
    if (killed === undefined || (flushedAt.get(owner) ?? []).some((t) => t >= at && t <= killed)) continue;
    const e = room.events.get(eventId);
    if (!e || e.state_key === undefined) continue;
    const beforeId = e.stateBefore.get(stateKeyOf(e.type, e.state_key));
    const before = beforeId === undefined ? {} : (room.events.get(beforeId)?.content ?? {});
    const changed = new Set<string>();
    for (const k of new Set([...Object.keys(before), ...Object.keys(e.content)])) if (canonical(before[k]) !== canonical(e.content[k])) changed.add(k);
    out.push(changed);
  }
  return out;
}

export interface RunResult {
  seed: number;
  scenario: string;
  /** Tags of the scenario, for grouping failures (scenarioTags). */
  tags: string[];
  violations: Violation[];
  /** Violations of the documented exception (a writer killed between a write and its flush): not failures. */
  excused: Violation[];
  /** Liveness and harness problems: hangs, unknown endpoints. */
  problems: string[];
  history: History;
  final: Record<string, unknown>;
  log: string[];
  digest: string;
  stats: { ops: number; acknowledged: number; kills: number; restarts: number; requests: number };
}

class Killed extends Error {}

interface Proc {
  name: string;
  account: string;
  store: MemoryStore;
  dead: boolean;
  killed: Promise<never>;
  kill: () => void;
  db?: Memory;
  /** What it is doing now (for hang reports). */
  doing: string;
}

export async function runSeed(seed: number, opts: { scale?: number; override?: Partial<Scenario> } = {}): Promise<RunResult> {
  const s: Scenario = { ...scenarioFor(seed, opts.scale ?? 1), ...opts.override };
  const rng = new Prng(seed);
  const sched = new Scheduler();
  const hs = new SimServer(sched, rng.fork(), { maxPersistMs: s.maxPersistMs, syncCacheMs: s.syncCacheMs, msc4222: s.msc4222 });
  const net = new SimNetwork(hs, rng.fork(), s.faults);
  for (const u of s.accounts) hs.addAccount({ userId: u, deviceId: `DEV${u.slice(1, 4).toUpperCase()}`, accessToken: `token-${u}` });
  hs.createRoom(ROOM_ID, s.accounts, initialContents(s));

  const history: History = { ops: [], initial: s.initial, keys: s.keys };
  /** When each process's flushes resolved, and when a process was killed in the middle of its work. */
  const flushedAt = new Map<string, number[]>();
  const killedAt = new Map<string, number>();
  const problems: string[] = [];
  const procs: Proc[] = [];
  let running = 0;
  let kills = 0;
  let counter = 0;
  const scriptRng = rng.fork();

  const incarnations = new Map<string, number>();
  const spawn = (account: string, store: MemoryStore, base: string) => {
    // Names are unique: the scheduler and the network know a process by its name.
    const generation = incarnations.get(base) ?? 0;
    incarnations.set(base, generation + 1);
    const name = `${base}${generation > 0 ? `#${generation}` : ""}`;
    let kill!: () => void;
    const killed = new Promise<never>((_, reject) => (kill = () => reject(new Killed())));
    killed.catch(() => undefined);
    const p: Proc = { name, account, store, dead: false, killed, doing: "starting", kill: () => {} };
    p.kill = () => {
      if (!p.dead && p.doing !== "stopped by the harness" && p.doing !== "done") killedAt.set(p.name, sched.now);
      if (p.dead) return;
      p.dead = true;
      kills++;
      hs.log.push(`${sched.now} ${name} KILLED while ${p.doing}`);
      sched.kill(name);
      kill();
    };
    procs.push(p);
    running++;
    void script(p, scriptRng.fork(), base).finally(() => running--);
  };

  const race = <T>(p: Proc, work: Promise<T>): Promise<T> => Promise.race([work, p.killed]);

  const script = async (p: Proc, r: Prng, base: string): Promise<void> => {
    try {
      p.doing = "Memory.open";
      const db = await race(
        p,
        Memory.open({
          homeserver: "http://hs.sim",
          accessToken: `token-${p.account}`,
          rooms: { main: ROOM_ID },
          singleStateKey: s.singleStateKey,
          encryption: false,
          // A homeserver that takes longer than the default fork window (1 s) to store an event
          // is one a user sets settleMs for (docs/DURABILITY.md "What it relies on").
          ...(s.maxPersistMs >= 1000 ? { settleMs: s.maxPersistMs + 100 } : {}),
          store: p.store,
          transport: net.transport(p.name),
          clock: sched.clock(p.name),
          onError: () => undefined,
        }),
      );
      p.db = db;
      const resolvedOps: OpRecord[] = [];
      for (let step = 0; step < s.steps; step++) {
        const roll = r.next();
        if (roll < 0.55 || (roll < 0.7 && !r.chance(0.5))) {
          const key = r.pick(s.keys);
          p.doing = `get ${key}`;
          const seen = await race(p, db.get(key));
          const saw = seen === undefined ? undefined : (valueIndex(history)(key, seen) ?? "?");
          const isPut = roll < 0.55;
          const op: OpRecord = { id: `${p.name}.${++counter}`, process: p.name, key, kind: isPut ? "put" : "delete", saw, status: "pending", acknowledged: false };
          if (isPut) op.value = { w: p.name, n: counter };
          history.ops.push(op);
          hs.log.push(`${sched.now} ${p.name} ISSUE ${op.id} ${op.kind} ${key}${isPut ? ` ${JSON.stringify(op.value)}` : ""} saw=${saw ?? "absent"}`);
          const work = (isPut ? db.put(key, op.value) : db.delete(key)).then(
            () => {
              op.status = "resolved";
              resolvedOps.push(op);
            },
            () => {
              op.status = "rejected";
            },
          );
          p.doing = `${op.kind} ${op.id}`;
          if (r.chance(0.6)) await race(p, work);
        } else if (roll < 0.85) {
          const covered = [...resolvedOps];
          p.doing = "flush";
          await race(p, db.flush());
          flushedAt.set(p.name, [...(flushedAt.get(p.name) ?? []), sched.now]);
          for (const op of covered) op.acknowledged = true;
          hs.log.push(`${sched.now} ${p.name} FLUSHED (acknowledges ${covered.map((o) => o.id).join(",") || "nothing"})`);
          // Killed the instant flush resolves (no close): the promise made is now tested.
          if (r.chance(s.killAfterFlush)) return restartOrEnd(p, r, base);
        } else {
          p.doing = "thinking";
          await race(p, sched.clock(p.name).sleep(r.int(0, 5000)));
        }
        if (r.chance(s.killPerStep)) return restartOrEnd(p, r, base);
      }
      const covered = [...resolvedOps];
      p.doing = "final flush";
      await race(p, db.flush());
      for (const op of covered) op.acknowledged = true;
      hs.log.push(`${sched.now} ${p.name} FINAL FLUSH (acknowledges ${covered.map((o) => o.id).join(",") || "nothing"})`);
      p.doing = "done";
    } catch (e) {
      if (!(e instanceof Killed)) {
        hs.log.push(`${sched.now} ${p.name} FAILED in ${p.doing}: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
      }
    }
  };

  const restartOrEnd = (p: Proc, r: Prng, base: string) => {
    p.kill();
    if ((incarnations.get(base) ?? 0) < 3 && r.chance(0.6)) {
      const store = r.chance(0.5) ? p.store : new MemoryStore();
      hs.log.push(`${sched.now} ${base} RESTART with ${store === p.store ? "its kept store" : "no store"}`);
      spawn(p.account, store, base);
    }
  };

  const restoreImmediate = sched.install();
  const realRandom = Math.random;
  const jitter = rng.fork();
  Math.random = () => jitter.next(); // mxdb's back-off jitter: seeded too
  try {
    s.processes.forEach((account, i) => spawn(account, new MemoryStore(), `P${i}`));
    for (const at of s.restarts) {
      sched.at(at, "hs", () => {
        hs.restart();
        net.downUntil = sched.now + rng.int(100, 5000);
      });
    }
    if (s.randomKill > 0) {
      sched.at(rng.int(0, 10_000), "harness", () => {
        const live = procs.filter((p) => !p.dead && p.doing !== "done");
        const victim = live.length > 0 && rng.chance(s.randomKill) ? rng.pick(live) : undefined;
        if (victim) restartOrEnd(victim, rng.fork(), victim.name.split("#")[0]!);
      });
    }
    const finished = await sched.run(() => running === 0, sched.now + RUN_LIMIT_MS);
    if (!finished) for (const p of procs) if (!p.dead && p.doing !== "done") problems.push(`hang: ${p.name} still in ${p.doing} after ${RUN_LIMIT_MS / 60_000} simulated minutes`);
    // Quiesce: every process stops; what is on the wire or being persisted lands.
    for (const p of procs) if (!p.dead) {
      p.doing = "stopped by the harness";
      p.kill();
    }
    await sched.run(() => false, sched.now + RUN_LIMIT_MS);
  } finally {
    Math.random = realRandom;
    restoreImmediate();
  }
  for (const u of hs.unrecognized) problems.push(`unknown endpoint: ${u}`);
  for (const t of sched.realTimers) problems.push(`real timer: ${t} (use the injected Clock)`);
  const final = finalValues(hs, s);
  hs.log.push(`${sched.now} FINAL ${JSON.stringify(final)}`);
  const found = checkDurability(history, final);
  const orphans = s.singleStateKey ? orphanedWrites(hs, net, flushedAt, killedAt) : [];
  // docs/DURABILITY.md "What it relies on": a writer of a shared event killed after a write was
  // accepted and before its flush can leave a change it dropped unrepaired. Such violations are
  // counted apart; every other violation fails the run.
  const excused = found.filter((v) => orphans.some((changed) => changed.has(v.key)));
  const violations = found.filter((v) => !excused.includes(v));
  const digest = createHash("sha256").update(hs.log.join("\n")).digest("hex");
  return {
    seed,
    scenario: describeScenario(s),
    tags: scenarioTags(s),
    violations,
    excused,
    problems,
    history,
    final,
    log: hs.log,
    digest,
    stats: { ops: history.ops.length, acknowledged: history.ops.filter((o) => o.acknowledged).length, kills, restarts: s.restarts.length, requests: hs.log.filter((l) => / -> /.test(l)).length },
  };
}

function initialContents(s: Scenario): Record<string, Record<string, unknown>> {
  if (Object.keys(s.initial).length === 0) return {};
  if (s.singleStateKey) return { "": { ...s.initial } };
  return Object.fromEntries(Object.entries(s.initial).map(([k, v]) => [k, { [k]: v }]));
}

/** The homeserver's current state, key by key, as an opsdroid reader would see it. */
function finalValues(hs: SimServer, s: Scenario): Record<string, unknown> {
  const room = hs.rooms.get(ROOM_ID)!;
  const out: Record<string, unknown> = {};
  for (const key of s.keys) {
    const id = room.current.get(stateKeyOf(EVENT_TYPE, s.singleStateKey ? "" : key));
    const content = id === undefined ? {} : room.events.get(id)!.content;
    if (Object.prototype.hasOwnProperty.call(content, key)) out[key] = content[key];
  }
  return out;
}

/** One line a person can paste. */
export const replayCommand = (seed: number) => `npm run soak -- --seed ${seed} --verbose`;

export { initId };
