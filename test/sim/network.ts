/**
 * Each simulated process's Transport (src/http/types.ts): requests travel to the SimServer with a
 * delay and meet the faults the seed chose — a slow answer, an answer lost after the server applied
 * the request, a request delivered twice, a 429 with retry_after_ms, a 502/503 before anything was
 * applied, a homeserver restart, a dead process. Every exchange goes into the trace (no tokens).
 */
import type { HttpRequest, HttpResponse, Transport } from "../../src/http/types.js";
import type { Prng } from "./prng.js";
import type { SimResponse, SimServer } from "./server.js";

export interface FaultRates {
  /** Each way, uniform in [0, max] ms. */
  maxDelayMs: number;
  /** Applied by the server, but the client sees a transport error. */
  lostResponse: number;
  /** A PUT delivered twice (the second answer is thrown away). */
  duplicate: number;
  /** 429 M_LIMIT_EXCEEDED (writes only, as Synapse's rc_message). */
  rateLimited: number;
  /** 502 or 503 before anything is applied. */
  unavailable: number;
}

export const NO_FAULTS: FaultRates = { maxDelayMs: 0, lostResponse: 0, duplicate: 0, rateLimited: 0, unavailable: 0 };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class SimNetwork {
  /** Which process's state PUT made each event, and when the server answered it (answer lost or not). */
  readonly eventOwner = new Map<string, { owner: string; at: number }>();
  /** The homeserver refuses connections until then (a restart in progress). */
  downUntil = 0;
  private readonly txnNames = new Map<string, string>();

  constructor(
    private readonly hs: SimServer,
    private readonly rng: Prng,
    private readonly faults: FaultRates,
  ) {}

  /** The transport of one process (`owner`: its scheduler name). */
  transport(owner: string): Transport {
    return (req) => this.send(owner, req);
  }

  private send(owner: string, req: HttpRequest): Promise<HttpResponse> {
    const sched = this.hs.sched;
    const log = this.hs.log;
    if (sched.isDead(owner)) return Promise.reject(new Error("sim: process is dead"));
    const url = new URL(req.url);
    // GET /versions (once per open, before anything else) is answered at once and draws nothing from
    // the seeded randomness: the schedules of every seed stay what they were before mxdb asked it.
    if (url.pathname === "/_matrix/client/versions") {
      return this.hs.handle(req.method, url, req.headers, undefined).then((r) => ({ status: r.status, headers: { "content-type": "application/json" }, body: encoder.encode(JSON.stringify(r.body)) }));
    }
    const what = `${req.method} ${this.describe(owner, url)}`;
    const bodyText = req.body ? decoder.decode(req.body) : undefined;
    log.push(`${sched.now} ${owner} -> ${what}${bodyText ? ` ${clip(bodyText)}` : ""}`);
    const f = this.faults;
    return new Promise<HttpResponse>((resolve, reject) => {
      let settled = false;
      const finish = (fn: () => void) => {
        if (settled) return;
        settled = true;
        req.signal?.removeEventListener("abort", onAbort);
        fn();
      };
      const onAbort = () => finish(() => reject(req.signal!.reason));
      req.signal?.addEventListener("abort", onAbort, { once: true });
      // The answer travels back on the owner's behalf: a dead process receives nothing.
      // A duplicated request's answer waits for the copy too: like a proxy that retried it, the
      // copy arrives while the client is still waiting, never after it has its answer.
      let copyHandled: Promise<void> = Promise.resolve();
      let copyDone = () => {};
      const deliver = (outcome: { res?: SimResponse; error?: string }) => {
        void copyHandled.then(() => sched.at(this.rng.int(0, f.maxDelayMs), owner, () => {
          if (outcome.error !== undefined) {
            log.push(`${sched.now} ${owner} <- ${what} ERROR ${outcome.error}`);
            finish(() => reject(new Error(`sim: ${outcome.error}`)));
          } else {
            const r = outcome.res!;
            log.push(`${sched.now} ${owner} <- ${what} ${r.status} ${clip(JSON.stringify(r.body))}`);
            finish(() => resolve({ status: r.status, headers: { "content-type": "application/json" }, body: encoder.encode(JSON.stringify(r.body)) }));
          }
        }));
      };
      const body = bodyText === undefined ? undefined : (JSON.parse(bodyText) as unknown);
      const write = req.method !== "GET";
      const arrive = (copy: boolean) => {
        if (sched.now < this.downUntil) return copy ? copyDone() : deliver({ error: "connection refused (homeserver restarting)" });
        if (!copy && write && this.rng.chance(f.rateLimited)) {
          return deliver({ res: { status: 429, body: { errcode: "M_LIMIT_EXCEEDED", error: "Too Many Requests", retry_after_ms: this.rng.int(100, 3000) } } });
        }
        if (!copy && this.rng.chance(f.unavailable)) return deliver({ res: { status: this.rng.pick([502, 503]), body: { errcode: "M_UNKNOWN", error: "Service unavailable" } } });
        const lose = !copy && this.rng.chance(f.lostResponse);
        this.hs.handle(req.method, url, req.headers, body).then(
          (res) => {
            const eventId = (res.body as { event_id?: unknown } | undefined)?.event_id;
            if (req.method === "PUT" && url.pathname.includes("/state/") && res.status === 200 && typeof eventId === "string" && !this.eventOwner.has(eventId)) {
              this.eventOwner.set(eventId, { owner, at: sched.now });
            }
            if (copy) {
              log.push(`${sched.now} ${owner} <- (duplicate of ${what}) ${res.status} ${clip(JSON.stringify(res.body))}`);
              copyDone();
            } else if (lose) deliver({ error: `response lost (server answered ${res.status} ${clip(JSON.stringify(res.body), 80)})` });
            else deliver({ res });
          },
          (e: unknown) => {
            if (copy) copyDone();
            else deliver({ error: `connection reset (${e instanceof Error ? e.message : String(e)})` });
          },
        );
      };
      // The request itself is on the wire: it arrives even if its process dies meanwhile.
      const there = this.rng.int(0, f.maxDelayMs);
      sched.at(there, "net", () => arrive(false));
      if (req.method === "PUT" && this.rng.chance(f.duplicate)) {
        copyHandled = new Promise<void>((r) => (copyDone = r));
        const again = there + this.rng.int(0, f.maxDelayMs + 50);
        sched.at(again, "net", () => {
          log.push(`${sched.now} ${owner} -> (duplicate) ${what}`);
          arrive(true);
        });
      }
    });
  }

  /** Path and query for the trace; random transaction IDs become per-process ordinals (stable digests). */
  private describe(owner: string, url: URL): string {
    const path = url.pathname.replace("/_matrix/client/v3", "").replace(/\/sendToDevice\/([^/]+)\/([^/]+)$/, (_m, type: string, txn: string) => {
      const k = `${owner}|${txn}`;
      if (!this.txnNames.has(k)) this.txnNames.set(k, `txn${this.txnNames.size}`);
      return `/sendToDevice/${type}/${this.txnNames.get(k)}`;
    });
    return decodeURIComponent(path) + decodeURIComponent(url.search);
  }
}

function clip(s: string, n = 400): string {
  return s.length <= n ? s : `${s.slice(0, n)}…(${s.length} chars)`;
}
