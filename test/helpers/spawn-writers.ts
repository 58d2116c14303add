/**
 * Child processes for the durability tests: exit-writer.ts processes, and `mxdb` CLI commands run
 * one after another as a shell would. Each child's acknowledged ops come back to the test.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { projectRoot } from "../../src/homeserver/venv.js";
import type { ExitWriterConfig, ExitWriterReport } from "./exit-writer.js";

const WRITER = fileURLToPath(new URL("./exit-writer.ts", import.meta.url));
const CLI = join(projectRoot(), "src", "cli", "main.ts");

/** Every child still running when the test file ends is killed. */
const children = new Set<ChildProcess>();
export function killChildren(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
}

export interface WriterProcess {
  ready: Promise<void>;
  go: () => void;
  /** The writer's report, once it has exited with status 0. */
  done: Promise<ExitWriterReport & { exitCode: number }>;
}

export function spawnExitWriter(config: ExitWriterConfig): WriterProcess {
  const child = spawn(process.execPath, ["--import", "tsx", WRITER], { env: { ...process.env, MXDB_EXIT_WRITER: JSON.stringify(config) }, stdio: ["pipe", "pipe", "pipe"] });
  children.add(child);
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number>((r) => child.on("close", (code) => (children.delete(child), r(code ?? -1))));
  let markReady!: () => void;
  const ready = new Promise<void>((r) => (markReady = r));
  let report: ExitWriterReport | undefined;
  const lines = createInterface({ input: child.stdout });
  lines.on("line", (line) => {
    if (line === "ready") markReady();
    else if (line.startsWith("acked ")) report = JSON.parse(line.slice("acked ".length)) as ExitWriterReport;
  });
  const done = exited.then((exitCode) => {
    if (!report) throw new Error(`writer ${config.by} exited ${exitCode} without a report; stderr: ${stderr.slice(-2000)}`);
    return { ...report, exitCode };
  });
  // A writer that dies before "ready" must not leave the test waiting for it.
  const readyOrDied = Promise.race([ready, exited.then((c) => Promise.reject(new Error(`writer ${config.by} exited ${c} before ready; stderr: ${stderr.slice(-2000)}`)))]);
  return { ready: readyOrDied, go: () => child.stdin.write("go\n"), done };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** One `mxdb ...` command with MXDB_HOME = `home`; resolves when it has exited. */
export function mxdb(home: string, args: string[]): Promise<CliResult> {
  const child = spawn(process.execPath, ["--import", "tsx", CLI, ...args], { cwd: projectRoot(), env: { ...process.env, MXDB_HOME: home }, stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on("close", (code) => (children.delete(child), resolve({ code, stdout, stderr }))));
}
