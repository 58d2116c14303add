/**
 * History commands (docs/HISTORY.md): `history KEY` lists every version of a key, newest first;
 * `restore KEY --to TIME|EVENT` writes back the version it had then (a normal put, so it shows in
 * the history too). `get KEY --at` is in ./memory-commands.ts.
 */
import { bool, positionals, str, type Command } from "./args.js";
import { EXIT, UsageError } from "./errors.js";
import { OPTIONS, out, parseWhen, withMemory } from "./memory-commands.js";
import type { KeyVersion } from "../index.js";


const history: Command = {
  name: "history",
  usage: "history KEY [--limit N] [options]",
  summary: "Every version of KEY, newest first: time, sender, event, value (or deleted).",
  options: { ...OPTIONS, limit: { type: "string", arg: "N", desc: "at most N versions" } },
  async run(p) {
    const [key] = positionals(p, history, ["KEY"]);
    const limitText = str(p, "limit");
    const limit = limitText === undefined ? undefined : Number(limitText);
    if (limit !== undefined && !(Number.isInteger(limit) && limit > 0)) throw new UsageError("--limit must be a whole number above 0", "history");
    await withMemory(p, "history", async ({ memory }) => {
      for await (const v of memory.history(key!, limit === undefined ? {} : { limit })) {
        const value = v.value instanceof Error ? { error: v.value.message } : v.value;
        const { legacy, stale, repairedBy, repairOf } = v;
        const marks = { ...(legacy ? { legacy } : {}), ...(stale ? { stale } : {}), ...(repairedBy ? { repairedBy } : {}), ...(repairOf ? { repairOf } : {}) };
        if (bool(p, "json")) out(JSON.stringify({ ts: v.ts, time: new Date(v.ts).toISOString(), sender: v.sender, eventId: v.eventId, ...(v.deleted ? { deleted: true } : { value }), ...marks }));
        else out(`${new Date(v.ts).toISOString()}  ${v.sender}  ${v.eventId}  ${v.deleted ? "deleted" : JSON.stringify(value)}${describeMarks(v)}`);
      }
    });
    return EXIT.ok;
  },
};

const restore: Command = {
  name: "restore",
  usage: "restore KEY --to TIME|EVENT [options]",
  summary: "Write back the value KEY had at TIME or EVENT (deleting it if it did not exist then).",
  options: { ...OPTIONS, to: { type: "string", arg: "TIME|EVENT", desc: "the version to bring back" } },
  async run(p) {
    const [key] = positionals(p, restore, ["KEY"]);
    const to = str(p, "to");
    if (to === undefined) throw new UsageError("restore needs --to TIME|EVENT", "restore");
    const when = parseWhen(to, "restore");
    const value = await withMemory(p, "restore", ({ memory }) => memory.restore(key!, { to: when }));
    if (bool(p, "json")) out(JSON.stringify({ key, restored: value === undefined ? null : value, deleted: value === undefined }));
    else out(value === undefined ? `${JSON.stringify(key)} did not exist then: deleted` : `restored ${JSON.stringify(key)} to ${JSON.stringify(value)}`);
    return EXIT.ok;
  },
};

/** A version's marks in words (docs/HISTORY.md "Repairs"). */
function describeMarks(v: KeyVersion): string {
  const words = [v.legacy && "legacy opsdroid.database", v.stale && "stale write (lost update)", v.repairedBy && `repaired by ${v.repairedBy}`, v.repairOf && `repair of ${v.repairOf}`].filter(Boolean);
  return words.length ? `  (${words.join("; ")})` : "";
}

export const historyCommands: Command[] = [history, restore];
