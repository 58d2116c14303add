/**
 * Golden wire transcripts: the exact HTTP exchanges of one memory operation, with the values that
 * change from run to run (room, event and user IDs, the port, transaction IDs, times) replaced by
 * stable names, so a test can compare them byte for byte with fixtures/wire/.
 */
import type { TraceRecord } from "../../src/http/trace.js";

export interface WireExchange {
  /** `body` is the exact text we sent (normalised): our bytes are what an auditor checks. */
  request: { method: string; path: string; headers: Record<string, string>; body: string | null };
  response: { status: number | null; body: unknown };
}

/** Headers whose value is ours and stable; the rest (date, server, content-length...) vary or belong to the server. */
const REQUEST_HEADERS = ["authorization", "content-type"];

export class WireNormaliser {
  private readonly names = new Map<string, string>();
  private counters = new Map<string, number>();

  constructor(private readonly fixed: Record<string, string>) {}

  private name(kind: string, raw: string): string {
    let n = this.names.get(raw);
    if (!n) {
      const i = (this.counters.get(kind) ?? 0) + 1;
      this.counters.set(kind, i);
      n = `${kind}${i}`;
      this.names.set(raw, n);
    }
    return n;
  }

  text(s: string): string {
    let out = s;
    for (const [raw, stable] of Object.entries(this.fixed)) {
      out = out.split(raw).join(stable).split(encodeURIComponent(raw)).join(encodeURIComponent(stable));
    }
    out = out.replace(/\$[A-Za-z0-9_-]{43}/g, (id) => `$${this.name("EVENT", id)}`);
    out = out.replace(/%24([A-Za-z0-9_-]{43})/g, (_m, id: string) => `%24${this.name("EVENT", `$${id}`)}`);
    out = out.replace(/mxdb[a-z0-9]+\.(\d+)/g, (_m, n: string) => `TXN.${n}`);
    // An event's server time and age (in the event a check fetches) differ on every run.
    out = out.replace(/"origin_server_ts":\d+/g, '"origin_server_ts":"TS"').replace(/"age":\d+/g, '"age":"AGE"');
    return out;
  }

  exchange(r: TraceRecord): WireExchange {
    const url = new URL(r.url);
    const headers: Record<string, string> = {};
    for (const h of REQUEST_HEADERS) if (r.requestHeaders[h] !== undefined) headers[h] = r.requestHeaders[h]!;
    const body = (text: string | null) => (text === null || text === "" ? null : JSON.parse(this.text(text)));
    return {
      request: { method: r.method, path: this.text(url.pathname + url.search), headers, body: r.requestBody === null ? null : this.text(r.requestBody) },
      response: { status: r.status, body: body(r.responseBody) },
    };
  }
}
