/**
 * /sync, /messages and to-device for the simulated homeserver, as Synapse 1.163.2 answers them:
 * - the response cache of rest/client/sync.py + handlers/sync.py: a reply is kept `syncCacheMs`
 *   after it completes, keyed on (user, timeout, since, filter, full_state, device, use_state_after);
 *   an identical request meanwhile gets the same reply (and joins one still being computed); a reply
 *   that moved nothing (next_batch = since) is not kept;
 * - long-poll: with a since token, timeout > 0 and nothing new, wait for news or the timeout;
 * - classic `state` = the state at the start of the timeline, for what changed since `since`;
 *   `org.matrix.msc4222.state_after` (when enabled) = the state at the end, for what changed;
 * - to-device: delivered after `since`, deleted once a later request's since acknowledges them.
 */
import { stateKeyOf, type SimEvent, type SimRoom } from "./room-model.js";
import type { Prng } from "./prng.js";
import { err, ok, type Account, type SimResponse, type SimServer } from "./server.js";

interface CacheEntry {
  reply: Promise<SimResponse>;
  expiresAt: number | undefined;
}

interface ToDevice {
  id: number;
  event: Record<string, unknown>;
}

const DEFAULT_TIMELINE_LIMIT = 10;
const TO_DEVICE_LIMIT = 100;

export class SyncService {
  private cache = new Map<string, CacheEntry>();
  private waiters = new Set<() => void>();
  private readonly inboxes = new Map<string, ToDevice[]>();
  private toDevicePos = 0;
  private readonly transactions = new Set<string>();

  constructor(
    private readonly hs: SimServer,
    private readonly rng: Prng,
  ) {}

  reset(): void {
    this.cache = new Map();
    this.waiters = new Set();
  }

  /** Something new (an event persisted, a to-device message): wake the long-polls. */
  notify(): void {
    const w = [...this.waiters];
    this.waiters.clear();
    for (const wake of w) wake();
  }

  handle(account: Account, q: URLSearchParams): Promise<SimResponse> {
    const useStateAfter = this.hs.opts.msc4222 && q.get("org.matrix.msc4222.use_state_after") === "true";
    const timeout = Number(q.get("timeout") ?? 0);
    const key = JSON.stringify([account.userId, timeout, q.get("since"), q.get("filter"), q.get("full_state") === "true", account.deviceId, useStateAfter]);
    const now = this.hs.sched.now;
    const hit = this.cache.get(key);
    if (hit && (hit.expiresAt === undefined || now < hit.expiresAt)) {
      this.hs.log.push(`${now} hs sync cache hit since=${q.get("since")}`);
      return hit.reply;
    }
    const entry: CacheEntry = { reply: this.compute(account, q, timeout, useStateAfter), expiresAt: undefined };
    this.cache.set(key, entry);
    const cache = this.cache;
    entry.reply.then(
      (r) => {
        // handlers/sync.py: a reply whose next_batch equals since is not cached (synapse#8518: a tight loop).
        if (r.status === 200 && (r.body as { next_batch?: string }).next_batch !== q.get("since")) entry.expiresAt = this.hs.sched.now + this.hs.opts.syncCacheMs;
        else cache.delete(key);
      },
      () => cache.delete(key),
    );
    return entry.reply;
  }

  async sendToDevice(account: Account, type: string, txnId: string, body: unknown): Promise<SimResponse> {
    // rest/client/transactions.py: a resend of the same path by the same user and device gets the
    // first answer and is not applied again (the cache lives 30 min; a run is shorter).
    const txn = JSON.stringify([type, txnId, account.userId, account.deviceId]);
    if (this.transactions.has(txn)) return ok({});
    const messages = (body as { messages?: unknown } | null)?.messages;
    if (typeof messages !== "object" || messages === null) return err(400, "M_BAD_JSON", "messages missing");
    this.transactions.add(txn);
    for (const [userId, devices] of Object.entries(messages as Record<string, Record<string, unknown>>)) {
      for (const [target, content] of Object.entries(devices)) {
        // `*`: every device of the user.
        for (const deviceId of target === "*" ? this.hs.devicesOf(userId) : [target]) {
          this.inbox(userId, deviceId).push({ id: ++this.toDevicePos, event: { type, sender: account.userId, content } });
        }
      }
    }
    this.notify();
    return ok({});
  }

  /** GET /rooms/{roomId}/messages, dir=b only (what mxdb may ask): newest first from `from`. */
  messages(room: SimRoom, q: URLSearchParams): SimResponse {
    if (q.get("dir") !== "b") return err(400, "M_INVALID_PARAM", "the simulation serves dir=b only");
    const from = q.get("from") === null ? this.hs.position : parseToken(q.get("from")!)?.pos;
    if (from === undefined) return err(400, "M_INVALID_PARAM", "Invalid from token");
    const limit = Math.min(Number(q.get("limit") ?? 10), 1000);
    const types = (JSON.parse(q.get("filter") ?? "{}") as { types?: string[] }).types;
    const chunk = room.stream.filter((e) => e.stream! <= from && (!types || types.includes(e.type))).reverse().slice(0, limit);
    const end = chunk.length > 0 ? chunk.at(-1)!.stream! - 1 : from;
    return ok({ chunk: chunk.map((e) => this.hs.clientEvent(room, e, true)), start: token(from, 0), ...(chunk.length === limit ? { end: token(end, 0) } : {}) });
  }

  private inbox(userId: string, deviceId: string): ToDevice[] {
    const k = `${userId}|${deviceId}`;
    let box = this.inboxes.get(k);
    if (!box) this.inboxes.set(k, (box = []));
    return box;
  }

  private async compute(account: Account, q: URLSearchParams, timeout: number, useStateAfter: boolean): Promise<SimResponse> {
    const sinceRaw = q.get("since");
    const since = sinceRaw === null ? undefined : parseToken(sinceRaw);
    if (sinceRaw !== null && !since) return err(400, "M_UNKNOWN", "Invalid stream token");
    const filter = this.hs.filterJson(account.userId, q.get("filter"));
    if (q.get("filter") !== null && !filter) return err(400, "M_INVALID_PARAM", "No such filter");
    const inbox = this.inbox(account.userId, account.deviceId);
    if (since) {
      // handlers/sync.py: to-device messages up to since's to-device position are acknowledged: gone.
      for (let i = inbox.length - 1; i >= 0; i--) if (inbox[i]!.id <= since.td) inbox.splice(i, 1);
    }
    const gen = this.hs.generation;
    const deadline = this.hs.sched.now + timeout;
    for (;;) {
      const reply = this.build(account, since, filter, useStateAfter);
      if (reply || !since || this.hs.sched.now >= deadline) return reply ?? this.empty(account, since);
      await this.waitForNews(deadline - this.hs.sched.now);
      if (gen !== this.hs.generation) throw new Error("restarted");
    }
  }

  private waitForNews(ms: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const done = () => {
        cancelTimer();
        this.waiters.delete(done);
        removeHook();
        resolve();
      };
      const cancelTimer = this.hs.sched.at(ms, "hs", done);
      const removeHook = this.hs.onRestart((e) => {
        cancelTimer();
        this.waiters.delete(done);
        reject(e);
      });
      this.waiters.add(done);
    });
  }

  private empty(account: Account, since: { pos: number; td: number } | undefined): SimResponse {
    return ok({ next_batch: token(this.hs.position, this.toDeviceEnd(account, since?.td ?? 0).td), rooms: { join: {} }, to_device: { events: [] } });
  }

  private toDeviceEnd(account: Account, sinceTd: number): { events: ToDevice[]; td: number } {
    const pending = this.inbox(account.userId, account.deviceId).filter((m) => m.id > sinceTd);
    const events = pending.slice(0, TO_DEVICE_LIMIT);
    return { events, td: events.length === pending.length ? this.toDevicePos : events.at(-1)!.id };
  }

  /**
   * Classic `state` (handlers/sync.py _compute_state_delta_for_*_sync, _calculate_state): empty for
   * an incremental, unlimited timeline that is a linear chain from the last event before `since`;
   * else (state after the first timeline event ∪ state at the end) − state at since − the timeline's
   * last event per key, where "state at" a position is the state after the last event before it.
   * Two candidates left for one key: Synapse's set order decides, here the seed.
   */
  private classicStateIds(room: SimRoom, since: number | undefined, end: number, timeline: SimEvent[], limited: boolean): string[] {
    if (since !== undefined && !limited) {
      let prev = room.lastEventAt(since)?.event_id;
      let linear = true;
      for (const e of timeline) {
        if (e.prev_events.length !== 1 || e.prev_events[0] !== prev) linear = false;
        prev = e.event_id;
      }
      if (linear) return [];
    }
    const endState = room.stateAfterLastEvent(end);
    const startState = timeline.length > 0 ? room.stateAfter(timeline[0]!.event_id) : endState;
    const previous = new Set(since === undefined ? [] : room.stateAfterLastEvent(since).values());
    const lastInTimeline = new Map<string, string>();
    for (const e of timeline) if (e.state_key !== undefined) lastInTimeline.set(stateKeyOf(e.type, e.state_key), e.event_id);
    const contains = new Set(lastInTimeline.values());
    const byKey = new Map<string, string[]>();
    for (const [key, id] of [...endState.entries(), ...startState.entries()]) {
      if (previous.has(id) || contains.has(id)) continue;
      const list = byKey.get(key) ?? [];
      if (!list.includes(id)) list.push(id);
      byKey.set(key, list);
    }
    return [...byKey.values()].map((ids) => (ids.length === 1 ? ids[0]! : this.rng.pick(ids)));
  }

  /** A reply with news, or undefined when an incremental sync has nothing new. */
  private build(account: Account, since: { pos: number; td: number } | undefined, filter: Record<string, unknown> | undefined, useStateAfter: boolean): SimResponse | undefined {
    const now = this.hs.position;
    const td = this.toDeviceEnd(account, since?.td ?? 0);
    const limit = ((filter?.room as { timeline?: { limit?: number } } | undefined)?.timeline?.limit ?? DEFAULT_TIMELINE_LIMIT) || DEFAULT_TIMELINE_LIMIT;
    const join: Record<string, unknown> = {};
    for (const room of this.hs.rooms.values()) {
      const member = room.current.get(JSON.stringify(["m.room.member", account.userId]));
      if (!member || room.events.get(member)!.content.membership !== "join") continue;
      const fresh = room.stream.filter((e) => e.stream! > (since?.pos ?? 0) && e.stream! <= now);
      if (since && fresh.length === 0) continue;
      const timeline = fresh.slice(-limit);
      const limited = timeline.length < fresh.length;
      const startPos = (timeline[0]?.stream ?? now + 1) - 1;
      const ids = useStateAfter ? stateAfterIdsOf(room, since?.pos, now) : this.classicStateIds(room, since?.pos, now, timeline, limited);
      const section: Record<string, unknown> = {
        timeline: { events: timeline.map((e) => this.hs.clientEvent(room, e, false)), limited, prev_batch: token(startPos, td.td) },
        [useStateAfter ? "org.matrix.msc4222.state_after" : "state"]: { events: ids.map((id) => this.hs.clientEvent(room, room.events.get(id)!, false)) },
      };
      join[room.roomId] = section;
    }
    if (since && Object.keys(join).length === 0 && td.events.length === 0) return undefined;
    return ok({
      next_batch: token(now, td.td),
      rooms: { join },
      to_device: { events: td.events.map((m) => ({ type: m.event.type, sender: m.event.sender, content: m.event.content })) },
    });
  }
}

/** MSC4222 `state_after`: the current state at the end (initial), or its deltas since `since`, latest per key. */
function stateAfterIdsOf(room: SimRoom, since: number | undefined, end: number): string[] {
  if (since === undefined) return [...room.stateAtStream(end).values()];
  const latest = new Map<string, string | undefined>();
  for (const d of room.deltas) if (d.stream > since && d.stream <= end) latest.set(d.key, d.eventId);
  return [...latest.values()].filter((id): id is string => id !== undefined);
}

const token = (pos: number, td: number) => `s${pos}_${td}`;

function parseToken(t: string): { pos: number; td: number } | undefined {
  const m = /^s(\d+)_(\d+)$/.exec(t);
  return m ? { pos: Number(m[1]), td: Number(m[2]) } : undefined;
}
