/**
 * matrix-nio 0.26.0 with encryption (vodozemac) as an independent peer for the interop tests. The
 * Python side is test/interop/nio_client.py (JSON lines, one request at a time), run from the
 * project-local venv `.venv/nio` with the exact pins of test/interop/requirements-nio.txt.
 *
 *   const peer = await startNio({ homeserver, user_id, password, room_id, store_path });
 *   await peer.request("put", { key: "k", value: 1 });
 *   await peer.close();
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { disown, own, type Owned } from "../../src/homeserver/cleanup.js";
import { ensureVenv, projectRoot, type Venv } from "../../src/homeserver/venv.js";

export const NIO_REQUIREMENTS = join(projectRoot(), "test", "interop", "requirements-nio.txt");
export const NIO_CLIENT = join(projectRoot(), "test", "interop", "nio_client.py");

export function nioPackages(): string[] {
  return readFileSync(NIO_REQUIREMENTS, "utf8")
    .split("\n")
    .map((line) => line.replace(/#.*/, "").trim())
    .filter((line) => line !== "");
}

export function ensureNioVenv(onProgress?: (line: string) => void): Promise<Venv> {
  return ensureVenv({ name: "nio", packages: nioPackages(), ...(onProgress ? { onProgress } : {}) });
}

export interface NioInit {
  homeserver: string;
  user_id: string;
  password: string;
  room_id: string;
  /** nio's crypto store directory (must exist). */
  store_path: string;
  state_key?: string;
}

export interface NioInfo {
  user_id: string;
  device_id: string;
  identity_keys: { curve25519: string; ed25519: string };
  versions: Record<string, string>;
}

export class NioError extends Error {
  override readonly name = "NioError";
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(`${type}: ${message}`);
  }
}

export interface NioPeer {
  readonly info: NioInfo;
  request<T = unknown>(op: string, fields?: Record<string, unknown>): Promise<T>;
  stderrTail(): string;
  close(): Promise<void>;
}

export async function startNio(init: NioInit, options: { timeoutMs?: number } = {}): Promise<NioPeer> {
  const venv = await ensureNioVenv((line) => process.stderr.write(`# ${line}\n`));
  const child = spawn(venv.python, ["-u", NIO_CLIENT], { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" } });
  const peer = new Peer(child, options.timeoutMs ?? 60_000);
  try {
    peer.info = await peer.request<NioInfo>("init", { ...init });
    return peer;
  } catch (e) {
    await peer.close();
    throw new Error(`nio client failed to start: ${(e as Error).message}\n${peer.stderrTail()}`);
  }
}

class Peer implements NioPeer {
  info!: NioInfo;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private readonly tail: string[] = [];
  private readonly exited: Promise<void>;
  private exitError: Error | undefined;
  private readonly owned: Owned = {
    pid: () => (this.child.exitCode === null && this.child.signalCode === null ? this.child.pid : undefined),
    tempDir: undefined,
    stop: () => this.close(),
  };

  constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    private readonly timeoutMs: number,
  ) {
    createInterface({ input: child.stdout }).on("line", (line) => this.onLine(line));
    createInterface({ input: child.stderr }).on("line", (line) => {
      this.tail.push(line);
      if (this.tail.length > 40) this.tail.shift();
    });
    this.exited = new Promise((resolve) => {
      child.on("error", (e) => {
        this.exitError = new Error(`cannot run the nio client: ${e.message}`);
        this.failAll(this.exitError);
        resolve();
      });
      child.on("exit", (code, signal) => {
        this.exitError ??= new Error(`the nio client exited (code ${code}, signal ${signal})\n${this.stderrTail()}`);
        this.failAll(this.exitError);
        disown(this.owned);
        resolve();
      });
    });
    own(this.owned);
  }

  request<T>(op: string, fields: Record<string, unknown> = {}): Promise<T> {
    if (this.exitError) return Promise.reject(this.exitError);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`nio client: no answer to ${op} within ${this.timeoutMs} ms\n${this.stderrTail()}`));
      }, this.timeoutMs);
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.child.stdin.write(`${JSON.stringify({ ...fields, op, id })}\n`);
    });
  }

  stderrTail(): string {
    return this.tail.join("\n");
  }

  async close(): Promise<void> {
    if (!this.exitError && this.child.exitCode === null) {
      await this.request("close").catch(() => undefined);
      this.child.stdin.end();
      const timer = setTimeout(() => this.child.kill("SIGKILL"), 5_000);
      await this.exited;
      clearTimeout(timer);
    }
    await this.exited;
  }

  private onLine(line: string): void {
    let answer: { id: number | null; ok: boolean; result?: unknown; type?: string; error?: string };
    try {
      answer = JSON.parse(line) as typeof answer;
    } catch {
      this.tail.push(`(stdout) ${line}`);
      return;
    }
    const w = answer.id === null ? undefined : this.waiting.get(answer.id);
    if (!w) return;
    this.waiting.delete(answer.id!);
    clearTimeout(w.timer);
    if (answer.ok) w.resolve(answer.result ?? null);
    else w.reject(new NioError(answer.type ?? "Error", answer.error ?? ""));
  }

  private failAll(error: Error): void {
    for (const [id, w] of this.waiting) {
      clearTimeout(w.timer);
      w.reject(error);
      this.waiting.delete(id);
    }
  }
}
