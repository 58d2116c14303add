/**
 * CPU time spent by this process (the client) and by the homeserver process during a measured
 * run, to tell where a throughput gap comes from. Linux only for the server side (/proc).
 */
import { readFileSync } from "node:fs";

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** utime + stime of a process in ms, or NaN when unreadable. */
export function processCpuMs(pid: number): number {
  try {
    // The command name (field 2) may contain spaces: split after its closing parenthesis.
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
  } catch {
    return Number.NaN;
  }
}

export interface CpuSpan {
  clientMs: number;
  serverMs: number;
}

/** Start a span; call the returned function to read the CPU used since. */
export function cpuSpan(serverPid: number): () => CpuSpan {
  const client = process.cpuUsage();
  const server = processCpuMs(serverPid);
  return () => {
    const d = process.cpuUsage(client);
    return { clientMs: (d.user + d.system) / 1e3, serverMs: processCpuMs(serverPid) - server };
  };
}
