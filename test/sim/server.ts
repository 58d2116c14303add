/**
 * The simulated homeserver: the Client-Server endpoints mxdb uses, over SimRoom. Requests arrive
 * through ./network.ts (which adds the faults); handlers may take simulated time (event creation,
 * long-polls). A restart fails everything in flight and keeps what was persisted.
 * The model is written down in docs/SIMULATION.md.
 */
import type { Prng } from "./prng.js";
import { canonical, SimRoom, stateKeyOf, type Creation, type SimEvent } from "./room-model.js";
import type { Scheduler } from "./scheduler.js";
import { SyncService } from "./sync-service.js";

export interface Account {
  userId: string;
  deviceId: string;
  accessToken: string;
}

export interface SimResponse {
  status: number;
  body: unknown;
}

export interface ServerOptions {
  /** How long a state event's creation and persistence takes: uniform in [0, max] ms. */
  maxPersistMs: number;
  /** Synapse's sync_response_cache_duration (default 2 min). */
  syncCacheMs: number;
  /** Answer `org.matrix.msc4222.use_state_after` (Synapse's experimental flag for the user). */
  msc4222: boolean;
}

/** The server went away under a request: the client sees a transport error. */
export class ServerRestarted extends Error {}

const V3 = "/_matrix/client/v3";

export class SimServer {
  readonly rooms = new Map<string, SimRoom>();
  /** Requests the server did not know: a test fails on any. */
  readonly unrecognized: string[] = [];
  readonly log: string[] = [];
  readonly sync: SyncService;
  generation = 0;
  private streamPos = 0;
  private readonly accounts = new Map<string, Account>();
  private readonly filters = new Map<string, string[]>();
  private readonly inFlight = new Set<(e: Error) => void>();

  constructor(
    readonly sched: Scheduler,
    private readonly rng: Prng,
    readonly opts: ServerOptions,
  ) {
    this.sync = new SyncService(this, rng.fork());
  }

  addAccount(a: Account): void {
    this.accounts.set(a.accessToken, a);
  }

  /** Harness set-up: a room whose members are `users`, every one with power 100. */
  createRoom(roomId: string, users: string[], initialState: Record<string, Record<string, unknown>> = {}): SimRoom {
    const room = new SimRoom(roomId, this.rng.fork());
    this.rooms.set(roomId, room);
    const creator = users[0]!;
    const add = (type: string, stateKey: string, sender: string, content: Record<string, unknown>) =>
      this.persistNow(room, room.begin({ type, stateKey, sender, content, now: this.sched.now }));
    add("m.room.create", "", creator, { room_version: "10", creator });
    add("m.room.member", creator, creator, { membership: "join" });
    add("m.room.power_levels", "", creator, { users: Object.fromEntries(users.map((u) => [u, 100])), state_default: 50, events_default: 0 });
    add("m.room.join_rules", "", creator, { join_rule: "invite" });
    for (const u of users.slice(1)) add("m.room.member", u, u, { membership: "join" });
    for (const [stateKey, content] of Object.entries(initialState)) add("dev.opsdroid.database", stateKey, creator, content);
    return room;
  }

  /** Device IDs of a user's accounts (a to-device message to `*`). */
  devicesOf(userId: string): string[] {
    return [...new Set([...this.accounts.values()].filter((a) => a.userId === userId).map((a) => a.deviceId))];
  }

  get position(): number {
    return this.streamPos;
  }

  /** A restart: everything in flight fails; persisted events, filters and to-device inboxes stay. */
  restart(): void {
    this.generation++;
    this.log.push(`${this.sched.now} hs RESTART (generation ${this.generation})`);
    const failing = [...this.inFlight];
    this.inFlight.clear();
    this.sync.reset();
    for (const fail of failing) fail(new ServerRestarted("homeserver restarted"));
  }

  /** Wait `ms` of simulated time inside a handler; rejects if the server restarts meanwhile. */
  wait(ms: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const fail = (e: Error) => {
        cancel();
        reject(e);
      };
      const cancel = this.sched.at(ms, "hs", () => {
        this.inFlight.delete(fail);
        resolve();
      });
      this.inFlight.add(fail);
    });
  }

  /** Register a failure hook for a long wait (sync long-poll); returns its remover. */
  onRestart(fail: (e: Error) => void): () => void {
    this.inFlight.add(fail);
    return () => this.inFlight.delete(fail);
  }

  async handle(method: string, url: URL, headers: Record<string, string>, body: unknown): Promise<SimResponse> {
    const path = decodeURI(url.pathname);
    // Spec v1.15 like Synapse; MSC4222 advertised when on (Synapse does not, the simulation may: mxdb then asks for it).
    if (method === "GET" && path === "/_matrix/client/versions") return ok({ versions: ["v1.1", "v1.15"], unstable_features: { "org.matrix.msc4222": this.opts.msc4222 === true } });
    const auth = /^Bearer (.+)$/.exec(headers.authorization ?? "");
    const account = auth ? this.accounts.get(auth[1]!) : undefined;
    if (!account) return err(401, "M_UNKNOWN_TOKEN", "Unknown access token");
    const seg = url.pathname.split("/").map(decodeURIComponent);
    if (method === "GET" && path === `${V3}/account/whoami`) return ok({ user_id: account.userId, device_id: account.deviceId, is_guest: false });
    if (path.startsWith(`${V3}/user/`) && seg[6] === "filter") return this.filter(method, account, seg, body);
    if (method === "GET" && path === `${V3}/sync`) return this.sync.handle(account, url.searchParams);
    if (method === "PUT" && seg[4] === "sendToDevice" && seg.length === 7) return this.sync.sendToDevice(account, seg[5]!, seg[6]!, body);
    if (seg[4] === "rooms" && seg.length >= 7) {
      const room = this.rooms.get(seg[5]!);
      if (!room) return err(403, "M_FORBIDDEN", "You are not in this room");
      const joined = room.current.get(stateKeyOf("m.room.member", account.userId));
      if (!joined || room.events.get(joined)!.content.membership !== "join") return err(403, "M_FORBIDDEN", "You are not in this room");
      if (seg[6] === "state" && seg.length === 9) {
        if (method === "PUT") return this.putState(room, account, seg[7]!, seg[8]!, body);
        if (method === "GET") return this.getState(room, seg[7]!, seg[8]!, url.searchParams.get("format") === "event");
      }
      if (method === "GET" && seg[6] === "event" && seg.length === 8) {
        const e = room.events.get(seg[7]!);
        return e ? ok(this.clientEvent(room, e, true)) : err(404, "M_NOT_FOUND", "Event not found");
      }
      if (method === "GET" && seg[6] === "messages" && seg.length === 7) return this.sync.messages(room, url.searchParams);
    }
    this.unrecognized.push(`${method} ${url.pathname}${url.search}`);
    return err(404, "M_UNRECOGNIZED", "Unrecognized request");
  }

  /** The client event format, with the unsigned data Synapse adds to a state event. */
  clientEvent(room: SimRoom, e: SimEvent, withRoomId: boolean): Record<string, unknown> {
    const unsigned: Record<string, unknown> = {};
    if (e.state_key !== undefined) {
      const prevId = e.stateBefore.get(stateKeyOf(e.type, e.state_key));
      const prev = prevId === undefined ? undefined : room.events.get(prevId);
      if (prev) Object.assign(unsigned, { replaces_state: prev.event_id, prev_content: prev.content, prev_sender: prev.sender });
    }
    return {
      type: e.type,
      ...(e.state_key !== undefined ? { state_key: e.state_key } : {}),
      sender: e.sender,
      content: e.content,
      origin_server_ts: e.origin_server_ts,
      event_id: e.event_id,
      ...(withRoomId ? { room_id: room.roomId } : {}),
      unsigned,
    };
  }

  private filter(method: string, account: Account, seg: string[], body: unknown): SimResponse {
    if (seg[5] !== account.userId) return err(403, "M_FORBIDDEN", "Cannot use filters of other users");
    const list = this.filters.get(account.userId) ?? [];
    this.filters.set(account.userId, list);
    if (method === "POST" && seg.length === 7) {
      // storage/databases/main/filtering.py add_user_filter: an identical filter gets its old ID.
      const json = canonical(body);
      const found = list.indexOf(json);
      if (found >= 0) return ok({ filter_id: String(found) });
      list.push(json);
      return ok({ filter_id: String(list.length - 1) });
    }
    if (method === "GET" && seg.length === 8) {
      const f = list[Number(seg[7])];
      return f === undefined ? err(404, "M_NOT_FOUND", "No such filter") : ok(JSON.parse(f));
    }
    this.unrecognized.push(`${method} ${seg.join("/")}`);
    return err(404, "M_UNRECOGNIZED", "Unrecognized request");
  }

  filterJson(userId: string, filterId: string | null): Record<string, unknown> | undefined {
    if (filterId === null) return undefined;
    if (filterId.startsWith("{")) return JSON.parse(filterId) as Record<string, unknown>;
    const f = this.filters.get(userId)?.[Number(filterId)];
    return f === undefined ? undefined : (JSON.parse(f) as Record<string, unknown>);
  }

  private async putState(room: SimRoom, account: Account, type: string, stateKey: string, body: unknown): Promise<SimResponse> {
    if (typeof body !== "object" || body === null || Array.isArray(body)) return err(400, "M_NOT_JSON", "Content not JSON.");
    const creation = room.begin({ type, stateKey, sender: account.userId, content: body as Record<string, unknown>, now: this.sched.now });
    if (creation.duplicateOf) {
      this.log.push(`${this.sched.now} hs dedupe ${type}/${stateKey} by ${account.userId} -> ${creation.duplicateOf}`);
      return ok({ event_id: creation.duplicateOf });
    }
    // Creation + persistence take time; events created meanwhile fork off the same parents.
    await this.wait(this.rng.int(0, this.opts.maxPersistMs));
    const e = this.persistNow(room, creation);
    return ok({ event_id: e.event_id });
  }

  private getState(room: SimRoom, type: string, stateKey: string, asEvent: boolean): SimResponse {
    const id = room.current.get(stateKeyOf(type, stateKey));
    if (id === undefined) return err(404, "M_NOT_FOUND", `Cannot find state event for ${type}/${stateKey}`);
    const e = room.events.get(id)!;
    return ok(asEvent ? this.clientEvent(room, e, true) : e.content);
  }

  private persistNow(room: SimRoom, c: Creation): SimEvent {
    const e = room.persist(c, ++this.streamPos);
    const winner = e.state_key === undefined ? undefined : room.current.get(stateKeyOf(e.type, e.state_key));
    this.log.push(
      `${this.sched.now} hs persist #${e.stream} ${e.event_id.slice(0, 8)} ${e.type}/${e.state_key ?? "-"} by ${e.sender} ts=${e.origin_server_ts} prev=[${e.prev_events.map((p) => p.slice(0, 8)).join(",")}]` +
        ` ${JSON.stringify(e.content)}${winner !== e.event_id ? ` LOST to ${winner?.slice(0, 8)}` : ""}`,
    );
    this.sync.notify();
    return e;
  }
}

export const ok = (body: unknown): SimResponse => ({ status: 200, body });
export const err = (status: number, errcode: string, error: string, extra: Record<string, unknown> = {}): SimResponse => ({ status, body: { errcode, error, ...extra } });
