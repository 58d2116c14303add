/**
 * Shared pieces of the durability tests on a real, stock Synapse (issue 10): one Synapse per test
 * file with Synapse's default rate limits, fresh users and rooms, the server's authoritative values
 * (GET /rooms/{roomId}/state, not a client's picture), and the comparison of acknowledged ops with
 * what survived. Values carry their writer's identity ({by, i, run}) so one writer's value can never
 * pass for another's.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before } from "node:test";
import { getAllState } from "../../src/http/endpoints/state/get-all-state.js";
import { messages } from "../../src/http/endpoints/events/messages.js";
import { EVENT_TYPE, jsonEqual } from "../../src/db/format.js";
import { Memory } from "../../src/index.js";
import type { TraceRecord } from "../../src/http/trace.js";
import { Homeserver } from "../../src/homeserver/synapse.js";
import { testDatabase, testImplementation, type TestUser } from "./homeserver.js";
import { killChildren } from "./spawn-writers.js";

let stock: Promise<Homeserver> | undefined;

/** MXDB_DURABILITY_MSC4222=1 runs the same tests with MSC4222 on (the second sync path); default stock. */
export const DURABILITY_MSC4222 = process.env.MXDB_DURABILITY_MSC4222 === "1";

/** A homeserver of this test process with its default configuration and rate limits (stopped at exit): the run's implementation and database. */
export function stockHomeserver(): Promise<Homeserver> {
  const progress = (line: string) => process.stderr.write(`# ${line}${DURABILITY_MSC4222 ? " (MSC4222 on)" : ""}\n`);
  // On PostgreSQL in the `postgres-too` run (MXDB_TEST_DATABASE=postgres), as production Synapses run;
  // a stock Dendrite (its own rate limits) in the `dendrite-too` run (MXDB_TEST_DENDRITE=1).
  stock ??= Homeserver.start({ implementation: testImplementation(), rateLimits: "default", msc4222: DURABILITY_MSC4222, database: testDatabase(), onProgress: progress });
  return stock;
}

/** A freshly registered user (fresh user: fresh rc_message bucket, no cached /sync replies). */
export async function stockUser(hs: Homeserver, prefix: string): Promise<TestUser> {
  const localpart = `${prefix}-${randomBytes(4).toString("hex")}`.toLowerCase();
  const user = await hs.registerUser(localpart);
  return { ...user, client: hs.client(user.accessToken) };
}

export interface DurabilitySuite {
  /** The file's stock Synapse (set in before()). */
  readonly hs: Homeserver;
  /** A scratch directory for the file, removed in after() (only with `scratch` given). */
  readonly scratch: string;
  /** A fresh user whose client after() closes. */
  user(prefix: string): Promise<TestUser>;
  /** Fresh users, one per prefix, registered at the same time. */
  users<P extends string[]>(...prefixes: P): Promise<{ [K in keyof P]: TestUser }>;
}

/**
 * The set-up every durability file shares: before() starts stockHomeserver(); after() kills any
 * child still running (spawn-writers.ts), closes the users' clients and removes the scratch
 * directory. `scratch` is the mkdtemp prefix, e.g. "mxdb-cli-shells-". Call at the file's top level.
 */
export function durabilitySuite(options: { scratch?: string } = {}): DurabilitySuite {
  let hs: Homeserver | undefined;
  const scratch = options.scratch === undefined ? undefined : mkdtempSync(join(tmpdir(), options.scratch));
  const registered: TestUser[] = [];
  before(async () => {
    hs = await stockHomeserver();
  });
  after(async () => {
    killChildren();
    await Promise.all(registered.map((u) => u.client.close()));
    if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
  });
  const suite: DurabilitySuite = {
    get hs() {
      if (!hs) throw new Error("durabilitySuite: the homeserver is set in before(); use suite.hs inside a test");
      return hs;
    },
    get scratch() {
      if (scratch === undefined) throw new Error("durabilitySuite: no scratch directory (pass { scratch: prefix })");
      return scratch;
    },
    async user(prefix) {
      const u = await stockUser(suite.hs, prefix);
      registered.push(u);
      return u;
    },
    users: <P extends string[]>(...prefixes: P) => Promise.all(prefixes.map((p) => suite.user(p))) as Promise<{ [K in keyof P]: TestUser }>,
  };
  return suite;
}

/** key -> value as the server holds it now, decoded from opsdroid's format (both state-key modes). */
export async function serverValues(reader: TestUser, roomId: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const e of await reader.client.send(getAllState, { roomId })) {
    if (e.type !== EVENT_TYPE || typeof e.content !== "object" || e.content === null) continue;
    const content = e.content as Record<string, unknown>;
    if (e.state_key === "") Object.assign(out, content);
    else if (Object.prototype.hasOwnProperty.call(content, e.state_key)) out[e.state_key!] = content[e.state_key!];
  }
  return out;
}

/** A fresh reader's picture: a new Memory for `reader` (no store) in the writers' mode, every key and value. */
export async function readerValues(hs: Homeserver, reader: TestUser, roomId: string, singleStateKey: boolean): Promise<Record<string, unknown>> {
  const db = await Memory.open({ homeserver: hs.baseUrl, accessToken: reader.accessToken, rooms: { main: roomId }, singleStateKey, syncTimeoutMs: 1000, stateAfter: DURABILITY_MSC4222 ? "unstable" : "auto" });
  try {
    return await db.dump();
  } finally {
    await db.close();
  }
}

export interface Comparison {
  /** Acknowledged ops whose value is on the server exactly. */
  kept: number;
  total: number;
  /** Acknowledged keys missing or holding another value. */
  lost: string[];
}

/** Compare every acknowledged key's value with `actual`. */
export function compareAcked(acked: Record<string, unknown>, actual: Record<string, unknown>): Comparison {
  const lost: string[] = [];
  for (const [k, v] of Object.entries(acked)) if (!jsonEqual(actual[k], v)) lost.push(k);
  const total = Object.keys(acked).length;
  return { kept: total - lost.length, total, lost };
}

/** A short description of what was lost, for assertion messages. */
export function describeLost(c: Comparison, acked: Record<string, unknown>, actual: Record<string, unknown>, max = 5): string {
  return c.lost
    .slice(0, max)
    .map((k) => `${k}: acked ${JSON.stringify(acked[k])}, server ${JSON.stringify(actual[k])}`)
    .join("; ");
}

/** Lost keys counted by writer (the key's prefix before "-"), e.g. "a1 130, b 0". */
export function lostByWriter(c: Comparison, writers: string[]): string {
  return writers.map((w) => `${w} ${c.lost.filter((k) => k.startsWith(`${w}-`)).length}`).join(", ");
}

/** Every state event of our type in the room's timeline, oldest first (GET /messages, walked back). */
export async function stateHistory(reader: TestUser, roomId: string): Promise<Array<{ sender: string; stateKey: string; content: Record<string, unknown> }>> {
  const out: Array<{ sender: string; stateKey: string; content: Record<string, unknown> }> = [];
  let from: string | undefined;
  for (;;) {
    const page = await reader.client.send(messages, { roomId, dir: "b", limit: 100, filter: { types: [EVENT_TYPE] }, ...(from ? { from } : {}) });
    for (const e of page.chunk) if (typeof e.state_key === "string") out.push({ sender: e.sender, stateKey: e.state_key, content: (e.content ?? {}) as Record<string, unknown> });
    if (!page.end || page.chunk.length === 0) return out.reverse();
    from = page.end;
  }
}

/**
 * The state requests in writers' wire traces, merged in time order, one line each: what a run that
 * lost a write did (event IDs, what each replaced, how many keys), so a CI failure can be replayed
 * on paper. `traces` maps a writer's name to its trace file.
 */
export function stateTraceSummary(traces: Record<string, string>): string {
  const records: Record<string, TraceLine[]> = {};
  for (const [by, file] of Object.entries(traces)) {
    let text = "";
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    records[by] = text.split("\n").filter(Boolean).map((line) => JSON.parse(line) as TraceLine);
  }
  return stateRecordSummary(records);
}

type TraceLine = Pick<TraceRecord, "time" | "method" | "url" | "status" | "requestBody" | "responseBody">;

/** The same summary from in-memory traces (`memoryTraceSink().records`), keyed by writer. */
export function stateRecordSummary(traces: Record<string, readonly TraceLine[]>): string {
  const rows: Array<[string, string]> = [];
  for (const [by, records] of Object.entries(traces)) {
    for (const r of records) {
      const url = decodeURIComponent(r.url);
      if (!url.includes("dev.opsdroid.database") && !url.includes("/event/")) continue;
      const body = parseObject(r.responseBody);
      const what =
        r.method === "PUT"
          ? `PUT ${Object.keys(parseObject(r.requestBody)).length} keys -> ${String(body.event_id)}`
          : `GET ${url.includes("/event/") ? "event" : "current"} -> ${String(body.event_id)} replaces ${String((body.unsigned as { replaces_state?: string } | undefined)?.replaces_state)} by ${String(body.sender)} (${Object.keys(parseObject(body.content)).length} keys)`;
      rows.push([r.time, `${r.time.slice(11, 23)} ${by} ${what} [${r.status}]`]);
    }
  }
  return rows.sort((a, b) => a[0].localeCompare(b[0])).map((r) => r[1]).join("\n");
}

function parseObject(text: unknown): Record<string, unknown> {
  if (typeof text === "object" && text !== null) return text as Record<string, unknown>;
  try {
    const v: unknown = JSON.parse(String(text));
    return typeof v === "object" && v !== null ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
