/**
 * A homeserver simulated behind the Transport seam, on a VirtualClock: Synapse's event rate limiter
 * (synapse/api/ratelimiting.py `Ratelimiter.can_do_action`, one bucket per user: rc_message 0.2/s,
 * burst 10), answering a refused write after its 0.5 s pause with 429, `retry_after_ms` and
 * `Retry-After: ceil(seconds)` exactly as Synapse 1.163 does; accepted writes are recorded by body.
 * `outage` makes it refuse connections or answer 503 for a while (a restart).
 */
import type { HttpRequest, HttpResponse, Transport } from "../../src/http/types.js";
import type { VirtualClock } from "./virtual-clock.js";

export interface Exchange {
  method: string;
  path: string;
  body: string;
  arrivedAt: number;
  answeredAt?: number;
  status?: number;
  /** The delay the answer asked for (Retry-After, in ms), on a 429. */
  retryAfterMs?: number;
}

export interface SimulatedServerOptions {
  rateHz?: number;
  burst?: number;
  /** Synapse sleeps this long before answering a refused request (`pause=0.5`). */
  pauseMs?: number;
  latencyMs?: number;
  /** How long a GET /sync is held (the long-poll). */
  syncHoldMs?: number;
  /** What the server does at a given time: answer, refuse connections, or 503. */
  outage?: (now: number) => "up" | "refused" | 503;
  /** Replace the 429 answer (a proxy's plain-text page). */
  limitedAnswer?: (retryAfterMs: number) => HttpResponse;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const json = (status: number, body: unknown, headers: Record<string, string> = {}): HttpResponse => ({ status, headers: { "content-type": "application/json", ...headers }, body: encoder.encode(JSON.stringify(body)) });

export function simulatedServer(clock: VirtualClock, o: SimulatedServerOptions = {}) {
  const rate = o.rateHz ?? 0.2;
  const burst = o.burst ?? 10;
  const exchanges: Exchange[] = [];
  const accepted: string[] = [];
  let actionCount = 0;
  let timeStart = 0;

  /** Synapse's can_do_action for one action; times in seconds as there. */
  function canDoAction(nowS: number): { allowed: boolean; timeAllowed: number } {
    let performed = actionCount - (nowS - timeStart) * rate;
    if (performed < 0) {
      performed = 0;
      actionCount = 0;
      timeStart = nowS;
    }
    const allowed = !(performed > burst - 1);
    if (allowed) actionCount += 1;
    return { allowed, timeAllowed: Math.max(nowS, timeStart + (actionCount - burst + 1) / rate) };
  }

  const transport: Transport = async (req: HttpRequest) => {
    const path = new URL(req.url).pathname;
    const ex: Exchange = { method: req.method, path, body: req.body ? decoder.decode(req.body) : "", arrivedAt: clock.now() };
    exchanges.push(ex);
    const answer = (res: HttpResponse) => {
      ex.answeredAt = clock.now();
      ex.status = res.status;
      return res;
    };
    const state = o.outage?.(clock.now()) ?? "up";
    if (state === "refused") {
      ex.answeredAt = clock.now();
      throw Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:8008"), { code: "ECONNREFUSED" });
    }
    if (state === 503) {
      await clock.sleep(o.latencyMs ?? 20);
      return answer({ status: 503, headers: { "content-type": "text/html" }, body: encoder.encode("<html><body>503 Service Unavailable</body></html>") });
    }
    if (req.method === "GET") {
      if (path.endsWith("/sync")) await clock.sleep(o.syncHoldMs ?? 30_000);
      return answer(json(200, path.endsWith("/sync") ? { next_batch: "s" } : {}));
    }
    const nowS = clock.now() / 1000;
    const { allowed, timeAllowed } = canDoAction(nowS);
    if (!allowed) {
      const retryAfterMs = Math.trunc(1000 * (timeAllowed - nowS));
      await clock.sleep(o.pauseMs ?? 500);
      ex.retryAfterMs = Math.ceil(retryAfterMs / 1000) * 1000;
      return answer(o.limitedAnswer?.(retryAfterMs) ?? json(429, { errcode: "M_LIMIT_EXCEEDED", error: "Too Many Requests", retry_after_ms: retryAfterMs }, { "retry-after": String(Math.ceil(retryAfterMs / 1000)) }));
    }
    await clock.sleep(o.latencyMs ?? 20);
    accepted.push(ex.body);
    return answer(json(200, { event_id: `$${accepted.length}` }));
  };
  return { transport, exchanges, accepted };
}
