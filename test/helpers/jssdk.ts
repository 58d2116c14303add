/**
 * matrix-js-sdk with its Rust crypto (WASM, in Node; a dev dependency only) as an independent peer
 * for the interop tests. The driver is test/interop/jssdk_client.mjs (JSON lines, one request at a
 * time), run with this Node; its ops are listed there.
 *
 *   const peer = await startJsSdk({ homeserver, user_id, password, room_id });
 *   await peer.request("put", { room_id, key: "k", value: 1 });
 *   await peer.close();
 */
import { join } from "node:path";
import { projectRoot } from "../../src/homeserver/venv.js";
import { JsonLinesProcess } from "./json-lines-process.js";

export const JSSDK_CLIENT = join(projectRoot(), "test", "interop", "jssdk_client.mjs");

export interface JsSdkInit {
  homeserver: string;
  user_id: string;
  password: string;
  /** Joined at init when given. */
  room_id?: string;
}

export interface JsSdkInfo {
  user_id: string;
  device_id: string;
  versions: Record<string, string>;
}

export class JsSdkError extends Error {
  override readonly name = "JsSdkError";
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(`${type}: ${message}`);
  }
}

export interface JsSdkPeer {
  readonly info: JsSdkInfo;
  request<T = unknown>(op: string, fields?: Record<string, unknown>): Promise<T>;
  stderrTail(): string;
  close(): Promise<void>;
}

export async function startJsSdk(init: JsSdkInit, options: { timeoutMs?: number } = {}): Promise<JsSdkPeer> {
  const child = new JsonLinesProcess(process.execPath, [JSSDK_CLIENT], {
    name: "matrix-js-sdk client",
    timeoutMs: options.timeoutMs ?? 60_000,
    toError: (answer) => new JsSdkError(answer.type ?? "Error", answer.error ?? ""),
  });
  const request = async <T>(op: string, fields: Record<string, unknown> = {}): Promise<T> => ((await child.request({ ...fields, op })).result ?? null) as T;
  try {
    const info = await request<JsSdkInfo>("init", { ...init });
    return { info, request, stderrTail: () => child.stderrTail(), close: () => child.close() };
  } catch (e) {
    await child.close();
    throw new Error(`matrix-js-sdk client failed to start: ${(e as Error).message}\n${child.stderrTail()}`);
  }
}
