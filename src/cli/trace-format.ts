/**
 * Reading a wire trace (src/http/trace.ts, one TraceRecord per JSON line) as a person: one block
 * per exchange, bodies as indented JSON, and a summary by endpoint. Used by `mxdb trace` and the demo.
 */
import type { TraceRecord } from "../http/trace.js";

/** `PUT /_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey}`: the URL with its IDs replaced by the spec's names. */
export function endpointOf(method: string, url: string): string {
  let path: string;
  try {
    path = new URL(url).pathname;
  } catch {
    path = url.split("?")[0] ?? url;
  }
  const rules: Array<[RegExp, string]> = [
    [/\/rooms\/[^/]+\/state\/[^/]+(\/[^/]*)?$/, "/rooms/{roomId}/state/{eventType}/{stateKey}"],
    [/\/rooms\/[^/]+\/send\/[^/]+\/[^/]+$/, "/rooms/{roomId}/send/{eventType}/{txnId}"],
    [/\/rooms\/[^/]+\/redact\/[^/]+\/[^/]+$/, "/rooms/{roomId}/redact/{eventId}/{txnId}"],
    [/\/rooms\/[^/]+\/event\/[^/]+$/, "/rooms/{roomId}/event/{eventId}"],
    [/\/rooms\/[^/]+\/([a-z_]+)$/, "/rooms/{roomId}/$1"],
    [/\/directory\/room\/[^/]+$/, "/directory/room/{roomAlias}"],
    [/\/join\/[^/]+$/, "/join/{roomIdOrAlias}"],
    [/\/user\/[^/]+\/filter\/[^/]+$/, "/user/{userId}/filter/{filterId}"],
    [/\/user\/[^/]+\/filter$/, "/user/{userId}/filter"],
    [/\/sendToDevice\/[^/]+\/[^/]+$/, "/sendToDevice/{eventType}/{txnId}"],
  ];
  for (const [re, to] of rules) {
    if (re.test(path)) {
      path = path.replace(re, to);
      break;
    }
  }
  return `${method} ${path}`;
}

function bodyText(body: string | null, encoding: "base64" | undefined, indent: string): string {
  if (body === null) return `${indent}(no body)`;
  if (body === "") return `${indent}(empty body)`;
  if (encoding === "base64") return `${indent}(binary, ${Buffer.from(body, "base64").byteLength} bytes, base64 in the trace)`;
  let text: string;
  try {
    text = JSON.stringify(JSON.parse(body), null, 2);
  } catch {
    text = body;
  }
  return text
    .split("\n")
    .map((l) => indent + l)
    .join("\n");
}

export function bodyBytes(body: string | null, encoding: "base64" | undefined): number {
  if (body === null) return 0;
  return encoding === "base64" ? Buffer.from(body, "base64").byteLength : Buffer.byteLength(body);
}

/** One exchange as a block of text. `maxBodyLines` shortens long bodies (the demo shows a few). */
export function formatExchange(r: TraceRecord, options: { maxBodyLines?: number } = {}): string {
  const cut = (text: string) => {
    const lines = text.split("\n");
    const max = options.maxBodyLines;
    return max !== undefined && lines.length > max ? [...lines.slice(0, max), `    ... (${lines.length - max} more lines)`].join("\n") : text;
  };
  const status = r.status === null ? `no response: ${r.error ?? "unknown error"}` : String(r.status);
  const lines = [
    `── ${r.time}  ${r.method} ${r.url}`,
    `   ${status}  in ${r.durationMs.toFixed(0)} ms  (${endpointOf(r.method, r.url)})`,
    `   request (${bodyBytes(r.requestBody, r.requestBodyEncoding)} bytes):`,
    cut(bodyText(r.requestBody, r.requestBodyEncoding, "    ")),
  ];
  if (r.status !== null) lines.push(`   response (${bodyBytes(r.responseBody, r.responseBodyEncoding)} bytes):`, cut(bodyText(r.responseBody, r.responseBodyEncoding, "    ")));
  return lines.join("\n");
}

export interface TraceSummary {
  requests: number;
  byEndpoint: Map<string, { count: number; sent: number; received: number; ms: number; errors: number; unanswered: number }>;
  sentBytes: number;
  receivedBytes: number;
  totalMs: number;
}

export function summarise(records: TraceRecord[]): TraceSummary {
  const byEndpoint: TraceSummary["byEndpoint"] = new Map();
  let sentBytes = 0;
  let receivedBytes = 0;
  let totalMs = 0;
  for (const r of records) {
    const name = endpointOf(r.method, r.url);
    const e = byEndpoint.get(name) ?? { count: 0, sent: 0, received: 0, ms: 0, errors: 0, unanswered: 0 };
    const sent = bodyBytes(r.requestBody, r.requestBodyEncoding);
    const received = bodyBytes(r.responseBody, r.responseBodyEncoding);
    e.count++;
    e.sent += sent;
    e.received += received;
    e.ms += r.durationMs;
    if (r.status === null) e.unanswered++;
    else if (r.status >= 400) e.errors++;
    byEndpoint.set(name, e);
    sentBytes += sent;
    receivedBytes += received;
    totalMs += r.durationMs;
  }
  return { requests: records.length, byEndpoint, sentBytes, receivedBytes, totalMs };
}

export function formatSummary(s: TraceSummary): string {
  const rows = [...s.byEndpoint.entries()].sort((a, b) => b[1].count - a[1].count);
  const width = Math.max(8, ...rows.map(([n]) => n.length));
  const lines = [`${s.requests} requests, ${s.sentBytes} bytes sent, ${s.receivedBytes} bytes received, ${(s.totalMs / 1000).toFixed(2)} s waiting on the homeserver (long-polls included)`];
  lines.push(`  ${"requests".padStart(8)}  ${"endpoint".padEnd(width)}  ${"sent".padStart(8)}  ${"received".padStart(9)}  ${"time".padStart(9)}`);
  for (const [name, e] of rows) {
    lines.push(`  ${String(e.count).padStart(8)}  ${name.padEnd(width)}  ${String(e.sent).padStart(8)}  ${String(e.received).padStart(9)}  ${`${e.ms.toFixed(0)} ms`.padStart(9)}${e.errors ? `  (${e.errors} errors)` : ""}${e.unanswered ? `  (${e.unanswered} without response, e.g. a long-poll cancelled at close)` : ""}`);
  }
  return lines.join("\n");
}

/** Parse a JSON-lines trace; a bad line names its number. */
export function parseTrace(text: string, where = "trace"): TraceRecord[] {
  const records: TraceRecord[] = [];
  text.split("\n").forEach((line, i) => {
    if (line.trim() === "") return;
    let r: unknown;
    try {
      r = JSON.parse(line);
    } catch (e) {
      throw new Error(`${where} line ${i + 1} is not JSON: ${(e as Error).message}`);
    }
    if (typeof r !== "object" || r === null || typeof (r as TraceRecord).method !== "string" || typeof (r as TraceRecord).url !== "string") {
      throw new Error(`${where} line ${i + 1} is not a trace record (no method/url)`);
    }
    records.push(r as TraceRecord);
  });
  return records;
}
