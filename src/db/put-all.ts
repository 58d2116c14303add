/**
 * Many puts made together (Memory.putAll, what `mxdb import` does). They are checked together before
 * the first is sent: each put checks its own event when it is made, so puts that only together pass
 * a shared event's limit would otherwise write the keys that fit and refuse the rest. Entries whose
 * state event then fits with every value inline are queued at once, with no check per put (the
 * check of the whole was made on the same picture, nothing can change it in between: the queueing
 * is synchronous): n puts into a shared state key cost one measure of the event, not n. Others
 * (encrypted, or values that go to media) go through ./place-value.ts one by one.
 */
import { utf8Length } from "../crypto/bytes.js";
import { EventTooLargeError, ImportTooLargeError } from "./errors.js";
import { cloneJson, isEncryptedRef, jsonEqual, stateKeyFor } from "./format.js";
import { ENCRYPTED_INLINE_MAX_BYTES, MEDIA_BUDGET_BYTES, standInRef, valuesToMove } from "./media-values.js";
import { ENCRYPTED_STAND_IN, placeValue, sizerFor, type PlaceContext } from "./place-value.js";
import type { RoomMemory } from "./room-memory.js";
import { MAX_EVENT_BYTES } from "./size.js";
import { validateKey, validateValue } from "./validate.js";
import { PendingValue } from "./writer.js";

export interface PutAllOptions {
  /** Entries queued and accepted before the next are queued (all at once by default). */
  batch?: number;
  /** Called after each batch is accepted, with how many entries are done. */
  progress?: (done: number) => void;
}

type Entry = { key: string; value: unknown };

/** Put every entry (in order); refused as a whole before anything is sent when they do not fit together. */
export async function putAll(ctx: PlaceContext, room: RoomMemory, entries: readonly Entry[], encrypt: boolean, options: PutAllOptions = {}): Promise<void> {
  checkTogether(ctx, room, entries, encrypt);
  const size = options.batch ?? entries.length;
  for (let i = 0; i < entries.length; i += size) {
    const batch = entries.slice(i, i + size);
    // This batch on the picture as it is now (others may have written since the last one).
    const inline = encrypt ? new Set<string>() : checkTogether(ctx, room, batch, encrypt);
    const writes: Promise<void>[] = [];
    for (const { key, value } of batch) {
      const stateKey = stateKeyFor(ctx.singleStateKey, key);
      const current = room.lookup(stateKey, key);
      // As put: a key that already holds the value is not written again.
      if (current.found && !isEncryptedRef(current.value) && !(current.value instanceof PendingValue) && jsonEqual(current.value, value)) continue;
      const copy = cloneJson(value);
      writes.push(inline.has(stateKey) ? room.writer(stateKey).enqueue({ kind: "put", key, value: copy }) : placeValue(ctx, room, stateKey, key, copy, encrypt));
    }
    await Promise.all(writes);
    options.progress?.(Math.min(i + size, entries.length));
  }
}

/**
 * Throws what the first put that cannot be placed would, or ImportTooLargeError when only their sum
 * is too large. Returns the state keys whose event holds all their values inline.
 */
function checkTogether(ctx: PlaceContext, room: RoomMemory, entries: readonly Entry[], encrypt: boolean): Set<string> {
  const toMedia = ctx.largeValues !== "refuse";
  const byStateKey = new Map<string, Map<string, unknown>>();
  for (const { key, value } of entries) {
    validateKey(key, ctx.singleStateKey);
    validateValue(key, value, !encrypt);
    if (encrypt && !toMedia) {
      const size = utf8Length(JSON.stringify(value));
      if (size > ENCRYPTED_INLINE_MAX_BYTES) throw new EventTooLargeError(key, size, ENCRYPTED_INLINE_MAX_BYTES, ctx.singleStateKey);
    }
    const stateKey = stateKeyFor(ctx.singleStateKey, key);
    let changes = byStateKey.get(stateKey);
    if (!changes) byStateKey.set(stateKey, (changes = new Map()));
    changes.set(key, encrypt ? ENCRYPTED_STAND_IN : value);
  }
  const standIn = standInRef(ctx.userId.slice(ctx.userId.indexOf(":") + 1));
  const inline = new Set<string>();
  for (const [stateKey, changes] of byStateKey) {
    const sizer = sizerFor(ctx, room, stateKey);
    const content = room.content(stateKey);
    const size = sizer.size(content, changes);
    // In the clear, past the budget the largest values go to media; encrypted, the state holds references.
    const limit = toMedia && !encrypt ? MEDIA_BUDGET_BYTES : MAX_EVENT_BYTES;
    if (size <= limit) inline.add(stateKey);
    else if (toMedia && !encrypt && valuesToMove(content, changes, sizer, standIn) !== undefined) continue;
    else if (changes.size === 1) throw new EventTooLargeError([...changes.keys()][0]!, size, limit, ctx.singleStateKey);
    else throw new ImportTooLargeError(changes.size, stateKey, size, limit, ctx.singleStateKey);
  }
  return inline;
}
