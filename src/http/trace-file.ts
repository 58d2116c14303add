/**
 * The wire trace written to a file: Node, Bun and Deno only (node:fs). The core loads it where a
 * trace path is given (src/db/open.ts); pass a TraceSink function elsewhere.
 */
import { closeSync, openSync, writeSync } from "node:fs";
import type { TraceRecord, TraceSink } from "./trace.js";

/** A sink appending JSON lines to a file (mode 0600: a trace shows what the memory holds). */
export function fileTraceSink(path: string): TraceSink & { close(): void } {
  const fd = openSync(path, "a", 0o600);
  let open = true;
  const sink = (record: TraceRecord) => {
    if (open) writeSync(fd, `${JSON.stringify(record)}\n`);
  };
  return Object.assign(sink, {
    close: () => {
      if (open) closeSync(fd);
      open = false;
    },
  });
}
