/**
 * The memory commands: put, get, delete, keys, dump, watch. Each opens a Memory (src/db) on the
 * resolved connection (./connect.ts), does one thing, and closes it, waiting for its writes.
 */
import { InvalidValueError } from "../db/errors.js";
import { validateValue } from "../db/validate.js";
import type { MemoryChange } from "../db/watch.js";
import type { MemoryOptions } from "../db/options.js";
import { bool, CONNECTION, MEMORY, positionals, str, type Command, type Parsed } from "./args.js";
import { openMemory, resolveConnection, type OpenedMemory } from "./connect.js";
import { CliError, describeError, EXIT, UsageError } from "./errors.js";

/** The options every command on a room's memory takes. */
export const OPTIONS = { ...MEMORY, ...CONNECTION };
/** `put` reports start and end for values above this (they go to the media repository). */
const LARGE_VALUE_NOTICE_BYTES = 256 * 1024;

export const out = (line: string) => process.stdout.write(`${line}\n`);

export async function withMemory<T>(p: Parsed, command: string, fn: (m: OpenedMemory) => Promise<T>, extra: Partial<MemoryOptions> = {}): Promise<T> {
  const opened = await openMemory(resolveConnection(p, command), extra);
  try {
    return await fn(opened);
  } finally {
    await opened.close();
  }
}

/** A time (ISO 8601 or epoch milliseconds) or an event ID, for --at and --to; refused before anything is sent. */
export function parseWhen(text: string, command: string): string | Date {
  if (text.startsWith("$")) return text;
  const ms = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
  if (!Number.isFinite(ms)) throw new UsageError(`not a time or an event ID: ${JSON.stringify(text)} (use 2026-12-01T10:00:00Z, epoch milliseconds, or $eventid)`, command);
  return new Date(ms);
}

/** The JSON value of `mxdb put KEY JSON`, checked before anything is sent. */
export function parseValueArgument(key: string, text: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`invalid JSON value for key ${JSON.stringify(key)}: ${(e as Error).message} — a string needs JSON quotes, e.g. '"hello"'`, "put");
  }
  try {
    validateValue(key, value, false);
  } catch (e) {
    if (e instanceof InvalidValueError) throw new UsageError(e.message, "put");
    throw e;
  }
  return value;
}

const put: Command = {
  name: "put",
  usage: "put KEY JSON [options]",
  summary: "Store the JSON value under KEY in the room (resolves once the homeserver has accepted it).",
  details: "JSON is one JSON text: quote strings ('\"hello\"'); numbers in plaintext room state are integers.",
  options: OPTIONS,
  async run(p) {
    const [key, text] = positionals(p, put, ["KEY", "JSON"]);
    const value = parseValueArgument(key!, text!);
    // A value this large goes to the media repository (docs/LARGE-VALUES.md): say so, and how long it took.
    const large = Buffer.byteLength(text!) > LARGE_VALUE_NOTICE_BYTES;
    const started = Date.now();
    if (large && !bool(p, "json")) process.stderr.write(`uploading a ${(Buffer.byteLength(text!) / 1024 / 1024).toFixed(1)} MB value...\n`);
    await withMemory(p, "put", async ({ memory }) => memory.put(key!, value));
    if (large && !bool(p, "json")) process.stderr.write(`uploaded and stored in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    out(bool(p, "json") ? JSON.stringify({ key, stored: true }) : `stored ${JSON.stringify(key)}`);
    return EXIT.ok;
  },
};

const get: Command = {
  name: "get",
  usage: "get KEY [--at TIME|EVENT] [options]",
  summary: "Print the value of KEY as JSON (exit status 3 when there is none); with --at, the value it had then.",
  details: "TIME is an ISO 8601 time (2026-12-01T10:00:00Z) or milliseconds since the epoch; EVENT an event ID ($...).",
  options: { ...OPTIONS, at: { type: "string", arg: "TIME|EVENT", desc: "the value as of this time or event" } },
  async run(p) {
    const [key] = positionals(p, get, ["KEY"]);
    const at = str(p, "at");
    const when = at === undefined ? undefined : parseWhen(at, "get");
    const value = await withMemory(p, "get", ({ memory }) => memory.get(key!, when === undefined ? {} : { at: when }));
    if (bool(p, "json")) out(JSON.stringify(value === undefined ? { key, found: false } : { key, found: true, value }));
    else if (value !== undefined) out(JSON.stringify(value, null, 2));
    if (value === undefined) {
      if (!bool(p, "json")) process.stderr.write(`mxdb: no key ${JSON.stringify(key)} in this room\n`);
      return EXIT.notFound;
    }
    return EXIT.ok;
  },
};

const del: Command = {
  name: "delete",
  usage: "delete KEY... [options]",
  summary: "Remove keys; prints each removed value (keys that were absent are left alone: nothing is written for them).",
  options: OPTIONS,
  async run(p) {
    const keys = positionals(p, del, ["KEY"], true);
    const values = await withMemory(p, "delete", ({ memory }) => memory.delete(keys));
    if (bool(p, "json")) {
      const deleted: Record<string, unknown> = {};
      const absent: string[] = [];
      keys.forEach((k, i) => (values[i] === undefined ? absent.push(k) : (deleted[k] = values[i])));
      out(JSON.stringify({ deleted, absent }));
    } else {
      keys.forEach((k, i) => out(values[i] === undefined ? `${JSON.stringify(k)} was absent` : `deleted ${JSON.stringify(k)} (was ${JSON.stringify(values[i])})`));
    }
    return EXIT.ok;
  },
};

const keys: Command = {
  name: "keys",
  usage: "keys [options]",
  summary: "List the keys in the room, one per line.",
  options: OPTIONS,
  async run(p) {
    const list = await withMemory(p, "keys", ({ memory }) => memory.keys());
    if (bool(p, "json")) out(JSON.stringify(list));
    else for (const k of list) out(k);
    return EXIT.ok;
  },
};

const dump: Command = {
  name: "dump",
  usage: "dump [options]",
  summary: "Print the room's whole memory as one JSON object.",
  options: OPTIONS,
  async run(p) {
    const all = await withMemory(p, "dump", ({ memory }) => memory.dump());
    out(bool(p, "json") ? JSON.stringify(all) : JSON.stringify(all, null, 2));
    return EXIT.ok;
  },
};

export function formatChange(c: MemoryChange, json: boolean): string {
  if (json) return JSON.stringify({ room: c.room, key: c.key, ...(c.value === undefined ? { deleted: true } : { value: c.value instanceof Error ? { error: c.value.message } : c.value }), sender: c.sender, eventId: c.eventId });
  const time = new Date().toISOString().slice(11, 19);
  const what = c.value === undefined ? `${c.key} deleted` : `${c.key} = ${c.value instanceof Error ? `<cannot decrypt: ${c.value.message}>` : JSON.stringify(c.value)}`;
  return `${time} ${what}  (by ${c.sender})`;
}

const watch: Command = {
  name: "watch",
  usage: "watch [options]",
  summary: "Print each change to the room's memory as it happens, other writers' included, until Ctrl-C (SIGINT) or SIGTERM.",
  options: OPTIONS,
  async run(p) {
    const conn = resolveConnection(p, "watch");
    // The sync loop retries on its own (the homeserver may come back); say so once per new problem.
    let lastProblem = "";
    const onError = (e: unknown) => {
      const line = describeError(e);
      if (line !== lastProblem) process.stderr.write(`mxdb: ${line} (retrying)\n`);
      lastProblem = line;
    };
    const opened = await openMemory(conn, { onError });
    const json = bool(p, "json") ?? false;
    let stopping = false;
    const stop = () => {
      if (stopping) return;
      stopping = true;
      // Closing stops the sync loop, which ends the change stream below.
      void opened.close();
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    try {
      const changes = opened.memory.watch({ room: conn.defaultRoom ?? "main" });
      const first = changes.next();
      // Let the generator subscribe to the sync loop before saying we are ready.
      await new Promise((r) => setImmediate(r));
      process.stderr.write(`mxdb: watching ${conn.defaultRoom ?? "main"} as ${opened.memory.userId} (Ctrl-C to stop)\n`);
      for (let next = await first; !next.done; next = await changes.next()) out(formatChange(next.value, json));
      if (!stopping) throw new CliError("the sync loop ended (was the access token revoked?) — run mxdb login again");
    } finally {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      await opened.close();
    }
    return EXIT.ok;
  },
};

const mediaList: Command = {
  name: "media list",
  usage: "media list [options]",
  summary: "List the values of the room kept in the media repository: key, mxc URI, size, encrypted or not.",
  details: "The Client-Server API cannot delete media: replaced large values stay on the homeserver (docs/LARGE-VALUES.md).",
  options: OPTIONS,
  async run(p) {
    const refs = await withMemory(p, "media list", ({ memory }) => memory.mediaReferences());
    if (bool(p, "json")) out(JSON.stringify(refs));
    else for (const r of refs) out(`${r.key}\t${r.uri}\t${r.size} bytes${r.encrypted ? "\tencrypted" : ""}`);
    return EXIT.ok;
  },
};

export const memoryCommands: Command[] = [put, get, del, keys, dump, watch, mediaList];
