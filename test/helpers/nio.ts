/**
 * matrix-nio 0.26.0 with encryption (vodozemac) as an independent peer for the interop tests. The
 * Python side is test/interop/nio_client.py (JSON lines, one request at a time), run from the
 * project-local venv `.venv/nio` with the exact pins of test/interop/requirements-nio.txt.
 *
 *   const peer = await startNio({ homeserver, user_id, password, room_id, store_path });
 *   await peer.request("put", { key: "k", value: 1 });
 *   await peer.close();
 */
import { join } from "node:path";
import { ensureVenv, projectRoot, readRequirements, type Venv } from "../../src/homeserver/venv.js";
import { JsonLinesProcess } from "./json-lines-process.js";

export const NIO_REQUIREMENTS = join(projectRoot(), "test", "interop", "requirements-nio.txt");
export const NIO_CLIENT = join(projectRoot(), "test", "interop", "nio_client.py");

export function nioPackages(): string[] {
  return readRequirements(NIO_REQUIREMENTS);
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
  const peer = new Peer(venv.python, options.timeoutMs ?? 60_000);
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
  private readonly child: JsonLinesProcess;

  constructor(python: string, timeoutMs: number) {
    this.child = new JsonLinesProcess(python, ["-u", NIO_CLIENT], {
      name: "nio client",
      timeoutMs,
      toError: (answer) => new NioError(answer.type ?? "Error", answer.error ?? ""),
    });
  }

  async request<T>(op: string, fields: Record<string, unknown> = {}): Promise<T> {
    return ((await this.child.request({ ...fields, op })).result ?? null) as T;
  }

  stderrTail(): string {
    return this.child.stderrTail();
  }

  close(): Promise<void> {
    return this.child.close();
  }
}
