/**
 * The wire trace (docs/STYLE.md "Assert the exact request bytes"): a transport that wraps another
 * and records each exchange as one JSON line, with the exact body bytes, so an auditor sees what
 * went over the wire whatever transport is injected. Secrets are redacted in place, every other byte
 * is kept:
 * - the `Authorization` header;
 * - `access_token`, `refresh_token`, `password`, `new_password`, `mac`, `recovery_key` and `recoveryKey` JSON string fields;
 * - `access_token` / `refresh_token` query parameters (mxdb never sends them; a caller's URL might).
 */
import { toBase64 } from "../crypto/bytes.js";
import { redactUrl } from "./errors.js";
import { systemClock, type Clock, type HttpRequest, type HttpResponse, type Transport } from "./types.js";

export interface TraceRecord {
  /** ISO time the request was sent. */
  time: string;
  method: string;
  url: string;
  requestHeaders: Record<string, string>;
  /** The body as UTF-8 text, or base64 when it is not valid UTF-8 (`requestBodyEncoding`). */
  requestBody: string | null;
  requestBodyEncoding?: "base64";
  status: number | null;
  responseHeaders: Record<string, string> | null;
  responseBody: string | null;
  responseBodyEncoding?: "base64";
  durationMs: number;
  /** Set when no response arrived (network error, abort). */
  error?: string;
}

export type TraceSink = (record: TraceRecord) => void;

// mxdb never sends a recovery key; its names are here in case a caller's request ever carries one.
const SECRET_FIELDS = ["access_token", "refresh_token", "password", "new_password", "mac", "recovery_key", "recoveryKey"];
const SECRET_FIELD_RE = new RegExp(`("(?:${SECRET_FIELDS.join("|")})"\\s*:\\s*)"(?:[^"\\\\]|\\\\.)*"`, "g");
export const REDACTED = "<redacted>";

export function redactBodyText(text: string): string {
  return text.replace(SECRET_FIELD_RE, `$1"${REDACTED}"`);
}

export function redactHeaders(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    out[name] = name.toLowerCase() === "authorization" ? value.replace(/^(\S+\s+).*$/, `$1${REDACTED}`) : value;
  }
  return out;
}

function bodyField(bytes: Uint8Array | undefined): { text: string | null; base64?: true } {
  if (bytes === undefined || bytes.byteLength === 0) return { text: bytes === undefined ? null : "" };
  try {
    return { text: redactBodyText(new TextDecoder("utf-8", { fatal: true }).decode(bytes)) };
  } catch {
    return { text: toBase64(bytes), base64: true };
  }
}

/** Wrap `inner` so every exchange is handed to `sink`, secrets redacted. */
export function tracingTransport(inner: Transport, sink: TraceSink, clock: Clock = systemClock): Transport {
  return async (req: HttpRequest): Promise<HttpResponse> => {
    const started = clock.now();
    const reqBody = bodyField(req.body);
    const base = {
      time: new Date(started).toISOString(),
      method: req.method,
      url: redactUrl(req.url),
      requestHeaders: redactHeaders(req.headers),
      requestBody: reqBody.text,
      ...(reqBody.base64 ? { requestBodyEncoding: "base64" as const } : {}),
    };
    let res: HttpResponse;
    try {
      res = await inner(req);
    } catch (err) {
      sink({ ...base, status: null, responseHeaders: null, responseBody: null, durationMs: clock.now() - started, error: err instanceof Error ? err.message : String(err) });
      throw err;
    }
    const resBody = bodyField(res.body);
    sink({
      ...base,
      status: res.status,
      responseHeaders: redactHeaders(res.headers),
      responseBody: resBody.text,
      ...(resBody.base64 ? { responseBodyEncoding: "base64" as const } : {}),
      durationMs: clock.now() - started,
    });
    return res;
  };
}

/** A sink collecting records in memory (tests, the demo's summary, counting requests). */
export function memoryTraceSink(): TraceSink & { records: TraceRecord[] } {
  const records: TraceRecord[] = [];
  return Object.assign((r: TraceRecord) => void records.push(r), { records });
}
