/**
 * Where a put's value goes, and the write that carries it there: inline in the state event, as a
 * Megolm-encrypted value event referenced from state, or in the media repository behind a reference
 * (docs/LARGE-VALUES.md). Queued at once, so call order and read-your-writes hold; a write waits for
 * its reference (the encrypted event's ID, the upload's URI) before its PUT.
 */
import { utf8Length } from "../crypto/bytes.js";
import { EncryptionUnavailableError, EventTooLargeError } from "./errors.js";
import { EventSizer } from "./content-size.js";
import { cloneJson, EVENT_TYPE, sharesOneEvent, type SingleStateKey } from "./format.js";
import { ENCRYPTED_INLINE_MAX_BYTES, MEDIA_BUDGET_BYTES, standInRef, valuesToMove, type MediaValues } from "./media-values.js";
import type { RoomMemory } from "./room-memory.js";
import { MAX_EVENT_BYTES } from "./size.js";
import type { ValueCrypto } from "./value-crypto.js";
import { PendingValue } from "./writer.js";

export interface PlaceContext {
  crypto: ValueCrypto | undefined;
  media: MediaValues;
  largeValues: "media" | "refuse";
  userId: string;
  singleStateKey: SingleStateKey;
  /** Measures of shared state keys' events, kept by room and state key (sizerFor). */
  sizers: Map<string, EventSizer>;
}

/**
 * What measures a state event (./content-size.ts: ./size.ts's estimate, member by member). Kept for
 * a shared state key, whose members it remembers; a key's own event has one member.
 */
export function sizerFor(ctx: PlaceContext, room: RoomMemory, stateKey: string): EventSizer {
  const id = JSON.stringify([room.roomId, stateKey]);
  const sizer = ctx.sizers.get(id) ?? new EventSizer({ roomId: room.roomId, sender: ctx.userId, type: EVENT_TYPE, stateKey });
  if (sharesOneEvent(ctx.singleStateKey)) ctx.sizers.set(id, sizer);
  return sizer;
}

/** The stand-in for an encrypted reference while its event is being sent (the longest event ID). */
export const ENCRYPTED_STAND_IN = { encrypted_val: `$${"x".repeat(43)}` };

/** Queue the put of `copy` (the caller's value, copied and validated); resolves when it is accepted. */
export async function placeValue(ctx: PlaceContext, room: RoomMemory, stateKey: string, key: string, copy: unknown, encrypt: boolean): Promise<void> {
  if (encrypt && !ctx.crypto) throw new EncryptionUnavailableError(room.roomId, "this memory has no encryption support enabled");
  const toMediaAllowed = ctx.largeValues !== "refuse";
  const writer = room.writer(stateKey);
  const sizer = sizerFor(ctx, room, stateKey);
  const fits = (stored: unknown, limit: number) => {
    const size = sizer.size(room.content(stateKey), new Map([[key, stored]]));
    if (size > limit) throw new EventTooLargeError(key, size, limit, ctx.singleStateKey);
  };
  if (encrypt) {
    fits(ENCRYPTED_STAND_IN, MAX_EVENT_BYTES);
    // The value travels in a Megolm event, which has the same 64 KiB limit: large ones go to media, encrypted.
    const json = JSON.stringify(copy);
    const size = utf8Length(json);
    const toMedia = size > ENCRYPTED_INLINE_MAX_BYTES;
    if (toMedia && !toMediaAllowed) throw new EventTooLargeError(key, size, ENCRYPTED_INLINE_MAX_BYTES, ctx.singleStateKey);
    if (toMedia) await ctx.media.checkLimit(key, size);
    const inner = toMedia ? ctx.media.store(json, true) : Promise.resolve(copy);
    const reference = inner.then((v) => ctx.crypto!.encryptValue(room.roomId, key, v)).then((eventId) => ({ encrypted_val: eventId }));
    return writer.enqueue({ kind: "put", key, value: new PendingValue(copy, ENCRYPTED_STAND_IN) }, reference);
  }
  if (!toMediaAllowed) {
    fits(copy, MAX_EVENT_BYTES);
    return writer.enqueue({ kind: "put", key, value: copy });
  }
  // Past the budget, the largest values of this event go to media: ours, or others that share it.
  const content = room.content(stateKey);
  const put = new Map([[key, copy]]);
  const standIn = standInRef(ctx.userId.slice(ctx.userId.indexOf(":") + 1));
  const moves = valuesToMove(content, put, sizer, standIn);
  if (moves === undefined) throw new EventTooLargeError(key, sizer.size(content, put), MEDIA_BUDGET_BYTES, ctx.singleStateKey);
  if (moves.length === 0) return writer.enqueue({ kind: "put", key, value: copy });
  const moved = moves.map((k) => {
    const value = k === key ? copy : cloneJson(room.lookup(stateKey, k).value);
    return { key: k, value, json: JSON.stringify(value) };
  });
  for (const m of moved) await ctx.media.checkLimit(m.key, utf8Length(m.json));
  const writes = moved.map((m) => writer.enqueue({ kind: "put", key: m.key, value: new PendingValue(m.value, standIn) }, ctx.media.store(m.json, false)));
  if (!moves.includes(key)) writes.push(writer.enqueue({ kind: "put", key, value: copy }));
  await Promise.all(writes);
}
