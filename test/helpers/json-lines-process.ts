/**
 * A long-lived child spoken to in JSON lines: the machinery shared by the opsdroid driver
 * (test/helpers/opsdroid.ts), the nio peer (test/helpers/nio.ts) and the matrix-js-sdk peer
 * (test/helpers/jssdk.ts). One request per stdin line,
 * `{...fields, op, id}`; one answer per stdout line, `{id, ok: true, result, ...}` or
 * `{id, ok: false, error, type, ...}`. Owns the child: ids, the pending requests and their timeouts,
 * the last lines of stderr, failing every pending request when the child dies, and registration with
 * the harness cleanup (src/homeserver/cleanup.ts) so an interrupted run does not leave it behind.
 *
 *   const child = new JsonLinesProcess(venv.python, ["-u", script], { name: "nio client", timeoutMs: 60_000, toError });
 *   const answer = await child.request({ op: "init", ...init }); // answer.result
 *   await child.close(); // sends {op: "close"}, then ends stdin and waits (SIGKILL after 5 s)
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { createInterface } from "node:readline";
import { disown, own, type Owned } from "../../src/homeserver/cleanup.js";

/** One answer line as the child writes it; the fields beyond these are the protocol's own. */
export interface JsonLinesAnswer {
  id: number | null;
  ok: boolean;
  result?: unknown;
  error?: string;
  type?: string;
  [field: string]: unknown;
}

export interface JsonLinesOptions {
  /** How messages name the child ("opsdroid driver" gives "the opsdroid driver exited ..."). */
  name: string;
  /** Reject a request unanswered after this long; 0 = never. */
  timeoutMs: number;
  /** The rejection for an `ok: false` answer. */
  toError(answer: JsonLinesAnswer): Error;
  /** Each line the child writes to stderr. */
  onStderr?: (line: string) => void;
  /** Let Node exit while no request is in flight (the child and its pipes are unref'd when idle). */
  unrefWhenIdle?: boolean;
}

interface Pending {
  resolve(answer: JsonLinesAnswer): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout | undefined;
}

const TAIL_LINES = 40;

export class JsonLinesProcess {
  private readonly child: ChildProcessWithoutNullStreams;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly tail: string[] = [];
  private readonly exited: Promise<void>;
  private exitError: Error | undefined;
  /** Killed with the Synapses this process owns if the process exits or is interrupted first. */
  private readonly owned: Owned = {
    pid: () => (this.child.exitCode === null && this.child.signalCode === null ? this.child.pid : undefined),
    tempDir: undefined,
    stop: () => this.close(),
  };

  /**
   * Runs `command ...args`: `python -u script` for the Python peers (unbuffered, no .pyc files
   * written next to the script), `node script` for the matrix-js-sdk peer.
   */
  constructor(
    command: string,
    args: string[],
    private readonly options: JsonLinesOptions,
  ) {
    const child = spawn(command, args, {
      stdio: ["pipe", "pipe", "pipe"],
      env: { ...process.env, PYTHONUNBUFFERED: "1", PYTHONDONTWRITEBYTECODE: "1" },
    });
    this.child = child;
    createInterface({ input: child.stdout }).on("line", (line) => this.onAnswer(line));
    createInterface({ input: child.stderr }).on("line", (line) => {
      this.remember(line);
      options.onStderr?.(line);
    });
    this.exited = new Promise((resolve) => {
      child.on("error", (error) => {
        this.exitError = new Error(`cannot run the ${options.name}: ${error.message}`);
        this.failAll(this.exitError);
        resolve();
      });
      child.on("exit", (code, signal) => {
        this.exitError ??= new Error(`the ${options.name} exited (code ${code}, signal ${signal})\n${this.stderrTail()}`);
        this.failAll(this.exitError);
        disown(this.owned);
        resolve();
      });
    });
    own(this.owned);
    this.idle();
  }

  /** Send one request; resolves with its `ok: true` answer, rejects with `toError` of an `ok: false` one. */
  request(message: { op: string; [field: string]: unknown }): Promise<JsonLinesAnswer> {
    if (this.exitError) return Promise.reject(this.exitError);
    const id = this.nextId++;
    return new Promise<JsonLinesAnswer>((resolve, reject) => {
      const { timeoutMs, name } = this.options;
      const timer =
        timeoutMs > 0
          ? setTimeout(() => {
              this.pending.delete(id);
              this.idle();
              reject(new Error(`${name}: no answer to ${message.op} (#${id}) within ${timeoutMs} ms\n${this.stderrTail()}`));
            }, timeoutMs)
          : undefined;
      this.pending.set(id, { resolve, reject, timer });
      this.busy();
      this.child.stdin.write(`${JSON.stringify({ ...message, id })}\n`);
    });
  }

  /** Last lines of the child's stderr (for failure messages). */
  stderrTail(): string {
    return this.tail.join("\n");
  }

  async close(): Promise<void> {
    if (!this.exitError && this.child.exitCode === null) {
      try {
        // The child answers close after every request in flight, then exits.
        await this.request({ op: "close" });
      } catch {
        // Already gone or broken: the kill below handles it.
      }
      this.child.stdin.end();
      const timer = setTimeout(() => this.child.kill("SIGKILL"), 5_000);
      await this.exited;
      clearTimeout(timer);
    }
    await this.exited;
  }

  private remember(line: string): void {
    this.tail.push(line);
    if (this.tail.length > TAIL_LINES) this.tail.shift();
  }

  private onAnswer(line: string): void {
    let answer: JsonLinesAnswer;
    try {
      answer = JSON.parse(line) as JsonLinesAnswer;
    } catch {
      // Stray output (a print() somewhere): keep it for the failure message.
      this.remember(`(stdout) ${line}`);
      return;
    }
    const pending = answer.id === null ? undefined : this.pending.get(answer.id);
    if (!pending) return;
    this.pending.delete(answer.id!);
    clearTimeout(pending.timer);
    this.idle();
    if (answer.ok) pending.resolve(answer);
    else pending.reject(this.options.toError(answer));
  }

  private failAll(error: Error): void {
    for (const [id, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.reject(error);
      this.pending.delete(id);
    }
  }

  /** While a request is in flight the child keeps Node alive. */
  private busy(): void {
    if (!this.options.unrefWhenIdle) return;
    this.child.ref();
    pipe(this.child.stdout).ref?.();
  }

  /** With unrefWhenIdle, an idle child must not hold Node's process open. */
  private idle(): void {
    if (!this.options.unrefWhenIdle || this.pending.size > 0) return;
    this.child.unref();
    for (const stream of [this.child.stdout, this.child.stderr, this.child.stdin]) pipe(stream).unref?.();
  }
}

/** A child's stdio pipe is a net.Socket at run time (typed as a plain stream), which can be (un)ref'd. */
function pipe(stream: unknown): { ref?: () => void; unref?: () => void } {
  return stream as { ref?: () => void; unref?: () => void };
}
