/**
 * opsdroid's real Matrix database (opsdroid.database.matrix.DatabaseMatrix 0.31.0), driven from Node
 * for the two-way format tests and the benchmarks. The Python side is bench/opsdroid_driver.py, a
 * long-lived process speaking JSON lines, run from a project-local venv with the exact pins of
 * bench/requirements-opsdroid.txt.
 *
 *   const ops = await startOpsdroid({ homeserver, user_id, access_token, device_id, rooms: { main: roomId }, single_state_key: false });
 *   await ops.put("twim", { hello: "world" });
 *   await ops.get("twim"); // { hello: "world" }
 *   await ops.close();
 *
 * Requests run concurrently in the driver (one asyncio task each), as concurrent skills would; await
 * each call before the next to keep them in order. A Python exception rejects with OpsdroidError.
 */
import { join } from "node:path";
import { ensureVenv, projectRoot, readRequirements, type Venv } from "../../src/homeserver/venv.js";
import { JsonLinesProcess } from "./json-lines-process.js";

export const OPSDROID_REQUIREMENTS = join(projectRoot(), "bench", "requirements-opsdroid.txt");
export const OPSDROID_DRIVER = join(projectRoot(), "bench", "opsdroid_driver.py");

/** The exact pins (one source for CI's `pip install -r` and for ensureVenv). */
export function opsdroidPackages(): string[] {
  return readRequirements(OPSDROID_REQUIREMENTS);
}

/** Create or reuse .venv/opsdroid. */
export function ensureOpsdroidVenv(onProgress?: (line: string) => void): Promise<Venv> {
  return ensureVenv({ name: "opsdroid", packages: opsdroidPackages(), ...(onProgress ? { onProgress } : {}) });
}

/** The driver's init line: the connector's and the database's configuration. */
export interface OpsdroidInit {
  homeserver: string;
  user_id: string;
  /** Either a token, or `password` (the connector then logs in with user_id and a new device). */
  access_token?: string;
  password?: string;
  device_id?: string;
  /** The connector's rooms map; it must have "main" (ConnectorMatrix's default target). */
  rooms: Record<string, string>;
  /** A name from `rooms`, an alias or a room ID; opsdroid's default is "main". */
  default_room?: string;
  /** opsdroid's default is true. */
  single_state_key?: boolean | string;
  /**
   * bench/opsdroid_driver.py rejects anything but false; the encrypted driver
   * (test/interop/opsdroid_e2ee_driver.py, test/helpers/opsdroid-e2ee.ts) takes true.
   */
  should_encrypt?: boolean;
  /** nio's crypto store directory (encrypted driver only). */
  store_path?: string;
  /** Python logging level for the driver's stderr, default "WARNING". */
  log_level?: "DEBUG" | "INFO" | "WARNING" | "ERROR";
}

export interface OpsdroidInfo {
  user_id: string;
  device_id: string;
  room_ids: Record<string, string>;
  versions: { opsdroid: string; "matrix-nio": string; python: string };
}

/** A request line without its id; `room` runs it inside opsdroid's memory_in_room(room). */
export interface OpsdroidRequest {
  op: string;
  /** Return the HTTP requests nio sent for this op as `requests`. */
  trace?: boolean;
  [field: string]: unknown;
}

/** An answer: the op's result and, with `trace`, nio's requests as [method, path] (no query string). */
export interface OpsdroidAnswer<T = unknown> {
  result: T;
  requests?: [string, string][];
}

export interface OpsdroidOptions {
  onProgress?: (line: string) => void;
  /** Each line the driver writes to stderr (Python logging, tracebacks). */
  onStderr?: (line: string) => void;
  /** Reject a request unanswered after this long; 0 = never. Default 120 s (nio retries 429 forever). */
  timeoutMs?: number;
  /** Another driver script and venv speaking the same protocol (default: bench/opsdroid_driver.py in .venv/opsdroid). */
  driver?: { script: string; venv: (onProgress?: (line: string) => void) => Promise<Venv> };
}

/** A Python exception from the driver: `type` is its class name (`MatrixException`, `KeyError`, ...). */
export class OpsdroidError extends Error {
  override readonly name = "OpsdroidError";
  constructor(
    readonly type: string,
    readonly pythonMessage: string,
    /** For MatrixException: nio's error response (errcode, message, HTTP status). */
    readonly matrix?: { response: string; errcode: string | null; message: string | null; status: number | null },
  ) {
    super(`${type}: ${pythonMessage}`);
  }
}

export interface OpsdroidDriver {
  readonly info: OpsdroidInfo;
  put(key: string, value: unknown, options?: { room?: string }): Promise<true | null>;
  get(key: string, options?: { room?: string }): Promise<unknown>;
  /** The removed value (one key), the removed values (several), or null when nothing was removed. */
  delete(keyOrKeys: string | string[], options?: { room?: string }): Promise<unknown>;
  request<T = unknown>(request: OpsdroidRequest): Promise<OpsdroidAnswer<T>>;
  /** Last lines of the driver's stderr (for failure messages). */
  stderrTail(): string;
  close(): Promise<void>;
}

/** Start the driver (installing the venv if needed) and initialise opsdroid with `init`. */
export async function startOpsdroid(init: OpsdroidInit, options: OpsdroidOptions = {}): Promise<OpsdroidDriver> {
  const venv = await (options.driver?.venv ?? ensureOpsdroidVenv)(options.onProgress);
  const driver = new Driver(venv.python, options.driver?.script ?? OPSDROID_DRIVER, options);
  try {
    const answer = await driver.request<OpsdroidInfo>({ ...init, op: "init" });
    driver.info = answer.result;
    return driver;
  } catch (error) {
    await driver.close();
    if (error instanceof OpsdroidError) throw new OpsdroidError(error.type, `${error.pythonMessage}\n${driver.stderrTail()}`, error.matrix);
    throw new Error(`opsdroid driver failed to start: ${(error as Error).message}\n${driver.stderrTail()}`);
  }
}

class Driver implements OpsdroidDriver {
  info!: OpsdroidInfo;
  private readonly child: JsonLinesProcess;

  constructor(python: string, script: string, options: OpsdroidOptions) {
    this.child = new JsonLinesProcess(python, ["-u", script], {
      name: "opsdroid driver",
      timeoutMs: options.timeoutMs ?? 120_000,
      toError: (answer) => new OpsdroidError(answer.type ?? "Error", answer.error ?? "", answer["matrix"] as OpsdroidError["matrix"]),
      // Requests in flight keep Node alive; an idle driver must not hold the process open.
      unrefWhenIdle: true,
      ...(options.onStderr ? { onStderr: options.onStderr } : {}),
    });
  }

  put(key: string, value: unknown, options: { room?: string } = {}): Promise<true | null> {
    return this.result<true | null>({ op: "put", key, value, ...options });
  }

  get(key: string, options: { room?: string } = {}): Promise<unknown> {
    return this.result({ op: "get", key, ...options });
  }

  delete(keyOrKeys: string | string[], options: { room?: string } = {}): Promise<unknown> {
    return this.result({ op: "delete", key: keyOrKeys, ...options });
  }

  async request<T = unknown>(request: OpsdroidRequest): Promise<OpsdroidAnswer<T>> {
    const answer = await this.child.request(request);
    const requests = answer["requests"] as OpsdroidAnswer["requests"];
    return { result: (answer.result ?? null) as T, ...(requests ? { requests } : {}) };
  }

  stderrTail(): string {
    return this.child.stderrTail();
  }

  close(): Promise<void> {
    return this.child.close();
  }

  private async result<T>(request: OpsdroidRequest): Promise<T> {
    return (await this.request<T>(request)).result;
  }
}
