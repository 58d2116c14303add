/**
 * Moving a memory and auditing it (docs/HISTORY.md "Export, import, audit"):
 *   export [FILE] [--history]   the room's memory as JSON lines, decrypted, with provenance
 *   import FILE                 into the room given by --room (any homeserver), coalesced, resumable
 *   audit [--allow MXID,...]    who changed which keys when; flags outsiders and dropped keys
 */
import { createReadStream, createWriteStream } from "node:fs";
import { createInterface } from "node:readline";
import { bool, positionals, str, type Command } from "./args.js";
import { EXIT, UsageError } from "./errors.js";
import { OPTIONS, out, withMemory } from "./memory-commands.js";

export const EXPORT_FORMAT = "mxdb-export";
const progress = (line: string) => process.stderr.write(`${line}\n`);

const exportCommand: Command = {
  name: "export",
  usage: "export [FILE] [--history] [options]",
  summary: "Write the room's memory as JSON lines (a header, then {key, value, sender, ts, eventId} per key) to FILE or standard output.",
  details: "Values are decrypted; --history adds every version of each key. The file holds plaintext: keep it as safe as the room.",
  options: { ...OPTIONS, history: { type: "boolean", desc: "add each key's versions, newest first" } },
  async run(p) {
    const [file] = p.positionals;
    const sink = file === undefined ? process.stdout : createWriteStream(file, { mode: 0o600 });
    const write = (line: string) => new Promise<void>((resolve, reject) => sink.write(`${line}\n`, (e) => (e ? reject(e) : resolve())));
    const count = await withMemory(p, "export", async ({ memory }) => {
      await write(JSON.stringify({ format: EXPORT_FORMAT, version: 1, exportedAt: new Date().toISOString(), singleStateKey: memory.singleStateKey }));
      const entries = await memory.entries();
      for (const e of entries) {
        const history = [];
        if (bool(p, "history")) for await (const v of memory.history(e.key)) history.push({ ...v, value: v.value instanceof Error ? { error: v.value.message } : v.value });
        await write(JSON.stringify({ ...e, ...(bool(p, "history") ? { history } : {}) }));
      }
      return entries.length;
    });
    if (sink !== process.stdout) await new Promise<void>((resolve) => (sink as NodeJS.WritableStream).end(resolve));
    progress(`exported ${count} keys`);
    return EXIT.ok;
  },
};

/** Keys put at once: enough for the writer to coalesce, few enough to show progress and bound memory. */
const IMPORT_BATCH = 1000;

/**
 * One state PUT in flight per room: an import's many per-key PUTs sent at once fork the room and
 * Synapse slows to about one a second; one at a time, 10,000 keys took 670 s
 * (bench/results/history-scale-transfer-per-key.md).
 */
const IMPORT_OPTIONS = { roomWriteConcurrency: 1 } as const;

const importCommand: Command = {
  name: "import",
  usage: "import FILE [options]",
  summary: "Put every key of an export into the room (--room; any homeserver): coalesced, rate-limit aware, resumable.",
  details:
    "Run it again after an interruption: keys that already hold the exported value are skipped, so only what is missing is written. " +
    "Keys that together would not fit one shared state event (--single-state-key true or a name) are refused before anything is sent.",
  options: OPTIONS,
  async run(p) {
    const [file] = positionals(p, importCommand, ["FILE"]);
    const entries: { key: string; value: unknown }[] = [];
    const lines = createInterface({ input: createReadStream(file!, "utf8"), crlfDelay: Infinity });
    let n = 0;
    for await (const line of lines) {
      n++;
      if (line.trim() === "") continue;
      const row = JSON.parse(line) as { format?: unknown; key?: unknown; value?: unknown };
      if (n === 1) {
        if (row.format !== EXPORT_FORMAT) throw new UsageError(`${file} is not an mxdb export (its first line has no "format": "${EXPORT_FORMAT}")`, "import");
        continue;
      }
      if (typeof row.key !== "string" || !("value" in row)) throw new UsageError(`${file} line ${n}: not a {key, value} entry`, "import");
      entries.push({ key: row.key, value: row.value });
    }
    let changed = 0;
    await withMemory(p, "import", async ({ memory }) => {
      // Unchanged keys are skipped by putAll; count what will be written.
      for (const e of entries) if (JSON.stringify(await memory.get(e.key)) !== JSON.stringify(e.value)) changed++;
      // All or nothing: keys that fit one shared event only in part are refused before the first PUT.
      await memory.putAll(entries, { batch: IMPORT_BATCH, progress: (done) => progress(`imported ${done}/${entries.length}`) });
      await memory.flush();
    }, IMPORT_OPTIONS);
    if (bool(p, "json")) out(JSON.stringify({ keys: entries.length, written: changed, unchanged: entries.length - changed }));
    else out(`imported ${entries.length} keys (${changed} written, ${entries.length - changed} already there)`);
    return EXIT.ok;
  },
};

const audit: Command = {
  name: "audit",
  usage: "audit [--allow MXID,...] [options]",
  summary: "Who changed which keys when, oldest first; flags writers outside --allow and writes that dropped another writer's keys.",
  options: { ...OPTIONS, allow: { type: "string", arg: "MXID,...", desc: "the users allowed to write; others are flagged" } },
  async run(p) {
    const allow = str(p, "allow")?.split(",").map((s) => s.trim()).filter(Boolean);
    const report = await withMemory(p, "audit", ({ memory }) => memory.audit(allow ? { allow } : {}));
    for (const r of report) {
      if (bool(p, "json")) out(JSON.stringify(r));
      else {
        const marks = `${r.repairedBy ? `  (dropped, repaired by ${r.repairedBy})` : ""}${r.repairOf ? `  (repair of ${r.repairOf})` : ""}`;
        out(`${new Date(r.ts).toISOString()}  ${r.sender}  ${r.kind} ${JSON.stringify(r.key)}${marks}${r.flags.length ? `  !! ${r.flags.join(", ")}` : ""}`);
      }
    }
    const flagged = report.filter((r) => r.flags.length > 0).length;
    if (!bool(p, "json")) progress(`${report.length} changes, ${flagged} flagged`);
    return flagged > 0 ? EXIT.flagged : EXIT.ok;
  },
};

export const transferCommands: Command[] = [exportCommand, importCommand, audit];
