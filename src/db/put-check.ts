/**
 * Puts made together, checked before the first is sent (Memory.checkPuts, what `mxdb import` does
 * first): each put checks its own event when it is made, so puts that only together pass a shared
 * event's limit would otherwise write the keys that fit and refuse the rest. Placement is
 * ./place-value.ts's: inline, an encrypted reference, or large values moved to media.
 */
import { utf8Length } from "../crypto/bytes.js";
import { EventTooLargeError, ImportTooLargeError } from "./errors.js";
import { stateKeyFor } from "./format.js";
import { ENCRYPTED_INLINE_MAX_BYTES, MEDIA_BUDGET_BYTES, standInRef, valuesToMove } from "./media-values.js";
import { ENCRYPTED_STAND_IN, sizerFor, type PlaceContext } from "./place-value.js";
import type { RoomMemory } from "./room-memory.js";
import { MAX_EVENT_BYTES } from "./size.js";
import { validateKey, validateValue } from "./validate.js";

/** Throws what the first put that cannot be placed would, or ImportTooLargeError when only their sum is too large. */
export function checkPuts(ctx: PlaceContext, room: RoomMemory, entries: readonly { key: string; value: unknown }[], encrypt: boolean): void {
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
  for (const [stateKey, changes] of byStateKey) {
    const sizer = sizerFor(ctx, room, stateKey);
    const content = room.content(stateKey);
    const size = sizer.size(content, changes);
    // In the clear, past the budget the largest values go to media; encrypted, the state holds references.
    const limit = toMedia && !encrypt ? MEDIA_BUDGET_BYTES : MAX_EVENT_BYTES;
    if (size <= limit || (toMedia && !encrypt && valuesToMove(content, changes, sizer, standIn) !== undefined)) continue;
    if (changes.size === 1) throw new EventTooLargeError([...changes.keys()][0]!, size, limit, ctx.singleStateKey);
    throw new ImportTooLargeError(changes.size, stateKey, size, limit, ctx.singleStateKey);
  }
}
