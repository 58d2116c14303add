/**
 * `npm start`: the demo. A throwaway Synapse (installed on first use), two users each with their own
 * Memory and wire trace, one room; they put, get, delete and watch each other's changes, and the
 * demo ends with what went over the wire. Non-interactive: it stops the homeserver and exits by itself.
 */
import { Memory } from "../db/memory.js";
import type { MemoryChange } from "../db/watch.js";
import { Homeserver } from "../homeserver/synapse.js";
import { createRoom } from "../http/endpoints/rooms/create-room.js";
import { memoryTraceSink, type TraceRecord } from "../http/trace.js";
import { describeError } from "./errors.js";
import { endpointOf, formatExchange, formatSummary, summarise } from "./trace-format.js";

const say = (line = "") => process.stdout.write(`${line}\n`);
const WAIT_MS = 30_000;

/** One demo user: a Memory, its trace, and the changes its watch has seen. */
interface Client {
  name: string;
  memory: Memory;
  trace: TraceRecord[];
  seen: MemoryChange[];
  waiters: Array<() => void>;
  /** put() and delete() calls, to compare with the state PUTs in the trace. */
  puts: number;
  deletes: number;
  quiet: boolean;
}

function startWatching(c: Client, others: () => Client[]): Promise<void> {
  const changes = c.memory.watch({ room: "main" });
  const loop = (async () => {
    for await (const change of changes) {
      c.seen.push(change);
      const writer = others().find((o) => o.memory.userId === change.sender);
      if (writer && !c.quiet) {
        const what = change.value === undefined ? `${change.key} deleted` : `${change.key} = ${JSON.stringify(change.value)}`;
        say(`    ${c.name}'s watch: ${what}  (written by ${writer.name})`);
      }
      for (const w of c.waiters.splice(0)) w();
    }
  })();
  return loop;
}

/** Resolve once `c`'s watch has seen a change matching `match` (bounded: a demo must end by itself). */
async function seen(c: Client, what: string, match: (m: MemoryChange) => boolean): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!c.seen.some(match)) {
    if (Date.now() > deadline) throw new Error(`${c.name} did not see ${what} within ${WAIT_MS / 1000} s`);
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 500);
      c.waiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}

async function put(c: Client, key: string, value: unknown): Promise<void> {
  c.puts++;
  await c.memory.put(key, value);
}

async function main(): Promise<void> {
  const started = Date.now();
  say("mxdb demo: two clients sharing a key-value memory in Matrix room state");
  say();
  say("[1/7] starting a throwaway Synapse on 127.0.0.1 (installed into .venv/synapse on first use)");
  const hs = await Homeserver.start({ onProgress: (line) => say(`    ${line}`) });
  const clients: Client[] = [];
  try {
    say("[2/7] registering alice and bob; alice creates the room #demo:localhost and invites bob");
    const alice = await hs.registerUser("alice");
    const bob = await hs.registerUser("bob");
    const http = hs.client(alice.accessToken);
    try {
      // bob gets power 50 so that he may write state (private_chat's state_default).
      await http.send(createRoom, { preset: "private_chat", room_alias_name: "demo", invite: [bob.userId], power_level_content_override: { users: { [bob.userId]: 50 } } });
    } finally {
      await http.close();
    }
    const room = `#demo:${hs.info.serverName}`;

    say("[3/7] opening a Memory for each (log in, first sync, resolve and join the room), each with a wire trace");
    for (const [name, user] of [["alice", alice], ["bob", bob]] as const) {
      const sink = memoryTraceSink();
      const memory = await Memory.open({ homeserver: hs.baseUrl, accessToken: user.accessToken, rooms: { main: room }, defaultRoom: "main", trace: sink });
      clients.push({ name, memory, trace: sink.records, seen: [], waiters: [], puts: 0, deletes: 0, quiet: false });
      say(`    ${name} is ${memory.userId}, device ${memory.deviceId ?? "?"}`);
    }
    const [a, b] = clients as [Client, Client];
    const loops = clients.map((c) => startWatching(c, () => clients.filter((o) => o !== c)));

    say("[4/7] alice puts greeting; bob's watch sees it, and bob reads it with get (served from his synced state: no request)");
    await put(a, "greeting", { text: "hello from alice", n: 1 });
    say(`    alice: put greeting`);
    await seen(b, "greeting", (m) => m.key === "greeting");
    say(`    bob: get greeting -> ${JSON.stringify(await b.memory.get("greeting"))}`);

    say("[5/7] both write at the same moment to the same state event (single_state_key: true);");
    say("      the write queue and lost-update repair keep both keys (a 'deleted' line followed by the value");
    say("      again is a lost update being repaired)");
    await Promise.all([put(a, "from_alice", "a"), put(b, "from_bob", "b")]);
    for (const c of clients) {
      for (const key of ["from_alice", "from_bob"]) await seen(c, key, (m) => m.key === key);
    }
    await Promise.all(clients.map((c) => c.memory.flush()));
    for (const c of clients) say(`    ${c.name}: keys -> ${JSON.stringify(await c.memory.keys())}`);

    say("[6/7] alice puts 20 counters at once: queued puts to one state event are coalesced");
    b.quiet = true;
    const before = statePuts(a.trace);
    await Promise.all(Array.from({ length: 20 }, (_, i) => put(a, `counter${i}`, i)));
    const counters = (c: Client) => new Set(c.seen.filter((m) => /^counter\d+$/.test(m.key) && m.value !== undefined).map((m) => m.key)).size;
    await seen(b, "the 20 counters", () => counters(b) === 20);
    const events = new Set(b.seen.filter((m) => /^counter\d+$/.test(m.key)).map((m) => m.eventId)).size;
    say(`    20 put() calls -> ${plural(statePuts(a.trace) - before, "state PUT")}; bob's watch saw the 20 keys change in ${plural(events, "state event")}`);
    b.quiet = false;

    say("[7/7] bob deletes greeting and the counters; alice's watch sees the deletions");
    a.quiet = true;
    b.deletes++;
    const removed = await b.memory.delete(["greeting", ...Array.from({ length: 20 }, (_, i) => `counter${i}`)]);
    say(`    bob: delete -> greeting was ${JSON.stringify(removed[0])}, and ${removed.length - 1} counters`);
    await seen(a, "greeting deleted", (m) => m.key === "greeting" && m.value === undefined);
    await seen(a, "counter19 deleted", (m) => m.key === "counter19" && m.value === undefined);
    say(`    alice's watch: greeting deleted, and ${a.seen.filter((m) => m.key.startsWith("counter") && m.value === undefined).length} counters deleted  (written by bob)`);
    await Promise.all(clients.map((c) => c.memory.flush()));
    say(`    alice: dump -> ${JSON.stringify(await a.memory.dump())}`);

    for (const c of clients) await c.memory.close();
    await Promise.all(loops);
    printWire(clients);
  } finally {
    for (const c of clients) await c.memory.close().catch(() => {});
    await hs.stop();
  }
  say();
  say(`done in ${((Date.now() - started) / 1000).toFixed(1)} s; the homeserver is stopped and its files removed.`);
  say("Next: `mxdb homeserver start`, then `mxdb put KEY JSON`, `mxdb watch` ... (README.md)");
}

const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`;
const isStatePut = (r: TraceRecord) => endpointOf(r.method, r.url).startsWith("PUT /_matrix/client/v3/rooms/{roomId}/state/");
const statePuts = (records: TraceRecord[]) => records.filter(isStatePut).length;

function printWire(clients: Client[]): void {
  say();
  say("What went over the wire (access tokens redacted in every trace)");
  for (const c of clients) {
    say();
    say(`${c.name}: ${plural(c.puts, "put() call")} and ${plural(c.deletes, "delete() call")} -> ${plural(statePuts(c.trace), "state PUT")} (repairs included)`);
    say(formatSummary(summarise(c.trace)));
  }
  const [a, b] = clients as [Client, Client];
  const firstPut = a.trace.find(isStatePut);
  const bobSync = b.trace.find((r) => r.url.includes("/sync") && r.url.includes("since=") && (r.responseBody ?? "").includes("greeting"));
  const shown = [firstPut, bobSync].filter((r): r is TraceRecord => r !== undefined);
  say();
  say(`A few exchanges, as \`mxdb trace FILE\` prints them (alice's first state PUT, then the /sync that brought it to bob):`);
  for (const r of shown) {
    say();
    say(formatExchange(r, { maxBodyLines: 30 }));
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`mxdb demo: ${describeError(error)}\n`);
    if (process.env.MXDB_DEBUG && error instanceof Error) process.stderr.write(`${error.stack}\n`);
    process.exit(1);
  },
);
