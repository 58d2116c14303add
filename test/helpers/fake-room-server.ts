/**
 * A small in-process homeserver for Memory-level unit tests: one room, one user, whoami, filter,
 * state PUTs and a /sync that long-polls until something happens (or the request is aborted).
 * Classic sync, or state_after when built with `stateAfter` and asked under that name. Tests can
 * make /sync hang, fail, or answer late, and count what is still in flight.
 */
import type { HttpRequest, HttpResponse, Transport } from "../../src/http/types.js";
import { STOCK_VERSIONS } from "./msw-transport.js";

export const USER = "@me:hs";
export const ROOM = "!room:hs";
type Ev = { type: string; state_key: string; content: Record<string, unknown>; event_id: string; sender: string; origin_server_ts: number; unsigned?: { replaces_state?: string } };

const encode = (status: number, body: unknown): HttpResponse => ({ status, headers: { "content-type": "application/json" }, body: new TextEncoder().encode(JSON.stringify(body)) });

export interface FakeRoomServerOptions {
  /** Answer state_after (the state at the end of the timeline) when asked under this name. */
  stateAfter?: "use_state_after" | "org.matrix.msc4222.use_state_after";
}

export function fakeRoomServer(options: FakeRoomServerOptions = {}) {
  let n = 0;
  const timeline: Ev[] = [];
  const ev = (type: string, stateKey: string, content: Record<string, unknown>, sender = USER): Ev => ({ type, state_key: stateKey, content, sender, event_id: `$e${++n}`, origin_server_ts: 1_000 + n });
  // The current event per (type, state_key): a map, so a room of 100,000 keys builds in linear time (the open curve bench).
  const latestByKey = new Map<string, Ev>();
  const current = (type: string, stateKey: string) => latestByKey.get(JSON.stringify([type, stateKey]));
  const add = (e: Ev) => {
    // Each write replaces the current event of its key (no forks here), as Synapse reports it.
    const replaced = current(e.type, e.state_key);
    if (replaced) e.unsigned = { replaces_state: replaced.event_id };
    timeline.push(e);
    latestByKey.set(JSON.stringify([e.type, e.state_key]), e);
    for (const w of waiters.splice(0)) w();
  };
  const waiters: Array<() => void> = [];
  const state = {
    /** What /sync does: answer, hang for ever, or fail with this status and body. */
    sync: "answer" as "answer" | "hang" | { status: number; body: unknown },
    inFlight: 0,
    aborted: 0,
    puts: [] as { stateKey: string; content: Record<string, unknown> }[],
  };
  for (const e of [
    ev("m.room.create", "", { room_version: "10", creator: USER }),
    ev("m.room.member", USER, { membership: "join" }),
    ev("m.room.power_levels", "", { users: { [USER]: 100 } }),
  ])
    add(e);

  const hang = (req: HttpRequest, until?: Promise<void>) =>
    new Promise<HttpResponse | undefined>((resolve, reject) => {
      const abort = () => {
        state.aborted++;
        reject(req.signal!.reason);
      };
      if (req.signal?.aborted) return abort();
      req.signal?.addEventListener("abort", abort, { once: true });
      void until?.then(() => {
        req.signal?.removeEventListener("abort", abort);
        resolve(undefined);
      });
    });

  const handle = async (req: HttpRequest): Promise<HttpResponse> => {
    const url = new URL(req.url);
    if (url.pathname === "/_matrix/client/versions") return encode(200, STOCK_VERSIONS);
    if (url.pathname.endsWith("/account/whoami")) return encode(200, { user_id: USER });
    if (url.pathname.includes("/filter")) return encode(200, { filter_id: "f1" });
    const put = /\/rooms\/([^/]+)\/state\/([^/]+)\/?(.*)$/.exec(url.pathname);
    if (put && req.method === "GET") {
      // The current event (format=event), as flush() checks it.
      const e = current(decodeURIComponent(put[2]!), decodeURIComponent(put[3] ?? ""));
      return e ? encode(200, e) : encode(404, { errcode: "M_NOT_FOUND", error: "no such state" });
    }
    const byId = /\/rooms\/[^/]+\/event\/(.+)$/.exec(url.pathname);
    if (byId && req.method === "GET") {
      const e = timeline.find((x) => x.event_id === decodeURIComponent(byId[1]!));
      return e ? encode(200, e) : encode(404, { errcode: "M_NOT_FOUND", error: "no such event" });
    }
    if (put && req.method === "PUT") {
      const content = JSON.parse(new TextDecoder().decode(req.body)) as Record<string, unknown>;
      const e = ev(decodeURIComponent(put[2]!), decodeURIComponent(put[3] ?? ""), content);
      state.puts.push({ stateKey: e.state_key, content });
      add(e);
      return encode(200, { event_id: e.event_id });
    }
    if (url.pathname.endsWith("/sync")) {
      const mode = state.sync;
      if (mode === "hang") {
        // Held until aborted; a later event re-checks the mode (set "answer" and write to release it).
        await hang(req, new Promise<void>((r) => waiters.push(r)));
        return handle(req);
      }
      if (typeof mode === "object") return encode(mode.status, mode.body);
      const since = Number(url.searchParams.get("since") ?? "0");
      if (since >= timeline.length && Number(url.searchParams.get("timeout") ?? "0") > 0) {
        await hang(req, new Promise<void>((r) => waiters.push(r)));
        return handle(req);
      }
      const initial = url.searchParams.get("since") === null;
      const fresh = timeline.slice(initial ? 0 : since);
      let section: Record<string, unknown> = initial ? { state: { events: latest(fresh) }, timeline: { events: [] } } : { state: { events: [] }, timeline: { events: fresh, limited: false } };
      if (options.stateAfter && url.searchParams.get(options.stateAfter) === "true") {
        const name = options.stateAfter === "use_state_after" ? "state_after" : "org.matrix.msc4222.state_after";
        section = { [name]: { events: latest(fresh) }, timeline: { events: initial ? [] : fresh, limited: false } };
      }
      return encode(200, { next_batch: String(timeline.length), rooms: fresh.length || initial ? { join: { [ROOM]: section } } : {} });
    }
    return encode(404, { errcode: "M_UNRECOGNIZED", error: `fake: ${req.method} ${url.pathname}` });
  };
  const transport: Transport = async (req) => {
    state.inFlight++;
    try {
      return await handle(req);
    } finally {
      state.inFlight--;
    }
  };
  /** Another user writes a state event (it reaches us through /sync). */
  const write = (type: string, stateKey: string, content: Record<string, unknown>) => add(ev(type, stateKey, content, "@other:hs"));
  return { transport, state, write };
}

/** The last event per (type, state_key): an initial sync's state. */
function latest(events: Ev[]): Ev[] {
  const m = new Map<string, Ev>();
  for (const e of events) m.set(JSON.stringify([e.type, e.state_key]), e);
  return [...m.values()];
}
