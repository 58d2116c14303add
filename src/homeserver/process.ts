/**
 * Starting and stopping the Synapse process itself. Its stdout/stderr go to a file in its dir, never
 * to our console; readiness is `GET /health` == "OK" (polled through src/http).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { HttpClient } from "../http/client.js";
import { getHealth } from "../http/endpoints/admin/health.js";
import { getVersions } from "../http/endpoints/server/versions.js";
import { LOG_FILE, STDIO_FILE } from "./config.js";

const decoder = new TextDecoder();

/** A free TCP port on 127.0.0.1 (asked from the kernel, then released for Synapse to bind). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface SpawnOptions {
  python: string;
  dir: string;
  configFiles: string[];
  /** Outlive this Node process (own process group, not killed at exit). */
  detached: boolean;
}

export function spawnSynapse(o: SpawnOptions): ChildProcess {
  const out = openSync(join(o.dir, STDIO_FILE), "a");
  try {
    const args = ["-m", "synapse.app.homeserver", ...o.configFiles.flatMap((c) => ["-c", c])];
    const child = spawn(o.python, args, { cwd: o.dir, stdio: ["ignore", out, out], detached: o.detached, env: { ...process.env, PYTHONUNBUFFERED: "1" } });
    // Unref'd either way: a test file must be able to end while its Synapse runs; the exit hooks kill it.
    child.unref();
    return child;
  } finally {
    closeSync(out);
  }
}

/** Is `GET /health` answering "OK"? Dendrite has no /health: its client API answering /versions is the sign. */
export async function healthy(client: HttpClient, signal?: AbortSignal, dendrite = false): Promise<boolean> {
  try {
    if (dendrite) return (await client.send(getVersions, undefined, { retry: false, ...(signal ? { signal } : {}) })).versions.length > 0;
    return decoder.decode(await client.send(getHealth, undefined, { retry: false, ...(signal ? { signal } : {}) })).trim() === "OK";
  } catch {
    return false;
  }
}

/** Poll /health until "OK"; fail with the log's tail if the process exits or the time runs out. */
export async function waitHealthy(client: HttpClient, child: ChildProcess, dir: string, timeoutMs = 60_000, dendrite = false): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`Synapse exited (${child.exitCode ?? child.signalCode}) before it was ready.\n${logTail(dir)}`);
    }
    const signal = AbortSignal.timeout(2_000);
    if (await healthy(client, signal, dendrite)) return;
    if (Date.now() > deadline) throw new Error(`Synapse was not healthy after ${timeoutMs / 1000} s at ${client.baseUrl}/health.\n${logTail(dir)}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

/** The last lines of Synapse's log and stdio, for error messages. */
export function logTail(dir: string, lines = 25): string {
  const parts: string[] = [];
  for (const name of [STDIO_FILE, LOG_FILE]) {
    const path = join(dir, name);
    if (!existsSync(path)) continue;
    const text = readFileSync(path, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
    if (text) parts.push(`--- last lines of ${path} ---\n${text}`);
  }
  return parts.join("\n") || `(no log in ${dir})`;
}

/** The process exists and is not a zombie (exited, waiting to be reaped by its parent). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
  try {
    // /proc/<pid>/stat: "pid (comm) S ..."; the state letter follows the last ")".
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return true; // no procfs: trust kill(0)
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
export async function killAndWait(pid: number, child: ChildProcess | undefined, graceMs = 10_000): Promise<void> {
  const gone = () => (child ? child.exitCode !== null || child.signalCode !== null : !pidAlive(pid));
  if (gone()) return;
  // ref() so the event loop waits for the exit we are awaiting.
  child?.ref();
  const exited = child ? new Promise<void>((r) => child.once("exit", () => r())) : new Promise<void>(() => {});
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  // Poll as well as wait for 'exit': a process we did not spawn sends us no event.
  while (!gone() && Date.now() < deadline) await Promise.race([exited, new Promise((r) => setTimeout(r, 100))]);
  if (!gone()) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // exited meanwhile
    }
    while (!gone()) await Promise.race([exited, new Promise((r) => setTimeout(r, 50))]);
  }
  child?.unref();
}
