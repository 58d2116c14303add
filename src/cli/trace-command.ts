/** `mxdb trace FILE`: pretty-print a wire trace written by --trace (or Memory.open's `trace` option). */
import { readFileSync } from "node:fs";
import { bool, positionals, type Command } from "./args.js";
import { CliError, EXIT } from "./errors.js";
import { formatExchange, formatSummary, parseTrace, summarise } from "./trace-format.js";

export const traceCommand: Command = {
  name: "trace",
  usage: "trace FILE [--summary]",
  summary: "Pretty-print a recorded wire trace: one block per exchange (time, method, URL, status, duration, bodies as indented JSON), then a summary by endpoint.",
  options: { summary: { type: "boolean", desc: "print only the summary" } },
  async run(p) {
    const [file] = positionals(p, traceCommand, ["FILE"]);
    let text: string;
    try {
      text = readFileSync(file!, "utf8");
    } catch (e) {
      throw new CliError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message} — give the file written by --trace`);
    }
    let records;
    try {
      records = parseTrace(text, file);
    } catch (e) {
      throw new CliError(`${(e as Error).message} — is it a trace written by --trace?`);
    }
    if (!bool(p, "summary")) for (const r of records) process.stdout.write(`${formatExchange(r)}\n\n`);
    process.stdout.write(`${formatSummary(summarise(records))}\n`);
    return EXIT.ok;
  },
};
