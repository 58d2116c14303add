/**
 * One room's current state map, type -> state_key -> event, with the questions the memory asks of
 * it (membership, encryption, room version, may this user write state?). Pure: no I/O.
 *
 * The read methods are the public face. `put`/`remove`/`clone` are for the reducers (./reduce.ts),
 * which work on a clone and hand it over only once the sync batch is saved.
 * Spec: https://spec.matrix.org/v1.19/client-server-api/#room-events (state events),
 *       https://spec.matrix.org/v1.19/client-server-api/#mroompower_levels
 */
import type { RoomStateSnapshot, StateChange, StateEvent } from "./types.js";

export class RoomStateFormatError extends Error {
  override readonly name = "RoomStateFormatError";
  readonly code = "ROOM_STATE_FORMAT";
}

export interface EncryptionSettings {
  algorithm: string;
  rotation_period_ms?: number;
  rotation_period_msgs?: number;
}

/** Room versions 1-10 take the creator from content.creator; later ones from the create event's sender. */
const PRE_V11 = new Set(["1", "2", "3", "4", "5", "6", "7", "8", "9", "10"]);

export class RoomState {
  readonly roomId: string;
  private readonly byType = new Map<string, Map<string, StateEvent>>();
  /** event_id -> current event, so a redaction finds its target. */
  private readonly byEventId = new Map<string, StateEvent>();

  constructor(roomId: string, events: Iterable<StateEvent> = []) {
    this.roomId = roomId;
    for (const e of events) this.put(e);
  }

  get(type: string, stateKey: string): StateEvent | undefined {
    return this.byType.get(type)?.get(stateKey);
  }

  /** state_key -> event for one type (empty when the room has none). */
  ofType(type: string): ReadonlyMap<string, StateEvent> {
    return this.byType.get(type) ?? EMPTY;
  }

  /** Every current state event. */
  *events(): IterableIterator<StateEvent> {
    for (const keys of this.byType.values()) yield* keys.values();
  }

  get size(): number {
    return this.byEventId.size;
  }

  /** The current event with this ID, if it is part of the state. */
  byId(eventId: string): StateEvent | undefined {
    return this.byEventId.get(eventId);
  }

  /** "join" | "invite" | "leave" | "ban" | "knock", or undefined when the user never had a membership. */
  membership(userId: string): string | undefined {
    const m = this.get("m.room.member", userId)?.content.membership;
    return typeof m === "string" ? m : undefined;
  }

  joinedMembers(): string[] {
    const out: string[] = [];
    for (const [userId, e] of this.ofType("m.room.member")) if (e.content.membership === "join") out.push(userId);
    return out;
  }

  /** Spec: https://spec.matrix.org/v1.19/client-server-api/#mroomencryption */
  encryption(): EncryptionSettings | undefined {
    const c = this.get("m.room.encryption", "")?.content;
    if (!c || typeof c.algorithm !== "string") return undefined;
    const out: EncryptionSettings = { algorithm: c.algorithm };
    if (typeof c.rotation_period_ms === "number") out.rotation_period_ms = c.rotation_period_ms;
    if (typeof c.rotation_period_msgs === "number") out.rotation_period_msgs = c.rotation_period_msgs;
    return out;
  }

  /** From m.room.create; the spec's default when absent is "1". */
  roomVersion(): string {
    const v = this.get("m.room.create", "")?.content.room_version;
    return typeof v === "string" ? v : "1";
  }

  /** Room v12 (https://spec.matrix.org/v1.19/rooms/v12/): the create event's sender and additional_creators. */
  creators(): string[] {
    const create = this.get("m.room.create", "");
    if (!create) return [];
    if (PRE_V11.has(this.roomVersion())) return typeof create.content.creator === "string" ? [create.content.creator] : [create.sender];
    const extra = Array.isArray(create.content.additional_creators) ? create.content.additional_creators.filter((u): u is string => typeof u === "string") : [];
    return [create.sender, ...extra];
  }

  /** A user's power level; Infinity for room v12+ creators. */
  powerLevel(userId: string): number {
    if (hasInfiniteCreators(this.roomVersion()) && this.creators().includes(userId)) return Infinity;
    const pl = this.get("m.room.power_levels", "")?.content;
    // No power_levels event: the creator has 100, everyone else 0.
    if (!pl) return this.creators().includes(userId) ? 100 : 0;
    const users = asRecord(pl.users);
    return toLevel(users[userId]) ?? toLevel(pl.users_default) ?? 0;
  }

  /**
   * May `userId` send a state event of `type` now? The auth rules' power check plus membership
   * (only joined members send events). Spec: https://spec.matrix.org/v1.19/rooms/v11/#authorization-rules
   */
  canSendState(userId: string, type: string): boolean {
    if (this.membership(userId) !== "join") return false;
    const pl = this.get("m.room.power_levels", "")?.content;
    // state_default is 50 when unspecified, but 0 when there is no power_levels event at all.
    const required = pl ? (toLevel(asRecord(pl.events)[type]) ?? toLevel(pl.state_default) ?? 50) : 0;
    return this.powerLevel(userId) >= required;
  }

  toJSON(): RoomStateSnapshot {
    return { version: 1, roomId: this.roomId, events: [...this.events()] };
  }

  static fromJSON(s: unknown): RoomState {
    const snap = s as Partial<RoomStateSnapshot> | null;
    if (typeof snap !== "object" || snap === null || snap.version !== 1 || typeof snap.roomId !== "string" || !Array.isArray(snap.events)) {
      throw new RoomStateFormatError(`not a version-1 room state snapshot (version: ${String((snap as { version?: unknown } | null)?.version)})`);
    }
    return new RoomState(snap.roomId, snap.events);
  }

  /** A copy the reducers may change without touching this one (events are shared; they are never mutated). */
  clone(): RoomState {
    return new RoomState(this.roomId, this.events());
  }

  /** Set the current event for its (type, state_key). Returns the change, or undefined if it is the same event unchanged. */
  put(event: StateEvent): StateChange | undefined {
    let keys = this.byType.get(event.type);
    if (!keys) this.byType.set(event.type, (keys = new Map()));
    const previous = keys.get(event.state_key);
    // Same event ID and not a redaction of it: nothing happened.
    if (previous && previous.event_id === event.event_id && sameRedaction(previous, event)) return undefined;
    keys.set(event.state_key, event);
    if (previous) this.byEventId.delete(previous.event_id);
    this.byEventId.set(event.event_id, event);
    return { roomId: this.roomId, type: event.type, stateKey: event.state_key, event, previous };
  }

  /** Drop a (type, state_key) the server no longer has. */
  remove(type: string, stateKey: string): StateChange | undefined {
    const keys = this.byType.get(type);
    const previous = keys?.get(stateKey);
    if (!keys || !previous) return undefined;
    keys.delete(stateKey);
    if (keys.size === 0) this.byType.delete(type);
    this.byEventId.delete(previous.event_id);
    return { roomId: this.roomId, type, stateKey, event: undefined, previous };
  }
}

const EMPTY: ReadonlyMap<string, StateEvent> = new Map();

function sameRedaction(a: StateEvent, b: StateEvent): boolean {
  return (a.unsigned?.redacted_because === undefined) === (b.unsigned?.redacted_because === undefined);
}

/** Room v12 made creators all-powerful; versions are compared as integers where they are integers. */
function hasInfiniteCreators(version: string): boolean {
  return /^\d+$/.test(version) && Number(version) >= 12;
}

function asRecord(v: unknown): Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

/** Power levels are integers; room versions before 10 also accepted numeric strings. */
function toLevel(v: unknown): number | undefined {
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (typeof v === "string" && /^\s*[+-]?\d+\s*$/.test(v)) return Number(v);
  return undefined;
}
