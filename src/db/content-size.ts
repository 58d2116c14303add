/**
 * The size of a state event as ./size.ts estimates it, kept per member so that a put does not
 * encode the whole content again. Canonical JSON has no whitespace, so an object's length is the sum
 * of its members' `"key":value` lengths plus braces and commas, whatever their order: the event's
 * size is its envelope (the event with an empty content) plus its content's members. Each member's
 * length is remembered with the value it was measured for (the same object or primitive), so
 * checking a put into a content of n keys costs n map reads, not an encoding of n values. (Values
 * in the memory's picture are never changed in place: put stores its own copy, sync parses anew.)
 * Exactly estimateEventSize: test/unit/db-content-size.test.ts compares the two.
 */
import { utf8Length } from "../crypto/bytes.js";
import { canonicalJson } from "../crypto/canonical-json.js";
import { estimateEventSize, type StateEventShape } from "./size.js";

/** Bytes of one object member, `"key":value`, in canonical JSON (UTF-8). */
export const memberBytes = (key: string, value: unknown): number => utf8Length(canonicalJson(key)) + 1 + utf8Length(canonicalJson(value));

/** Bytes of an object with `count` members whose `"key":value` texts sum to `members`. */
const objectBytes = (members: number, count: number): number => (count === 0 ? 2 : 2 + members + count - 1);

export class EventSizer {
  /** The event with an empty content (`{}`, 2 bytes). */
  private readonly envelope: number;
  private readonly members = new Map<string, { value: unknown; bytes: number }>();

  constructor(shape: Omit<StateEventShape, "content">) {
    this.envelope = estimateEventSize({ ...shape, content: {} });
  }

  /** The member's length, measured once per value. */
  member(key: string, value: unknown): number {
    const known = this.members.get(key);
    if (known !== undefined && known.value === value) return known.bytes;
    const bytes = memberBytes(key, value);
    this.members.set(key, { value, bytes });
    return bytes;
  }

  /** estimateEventSize of the event with `content`, where `changes` (key to value, undefined: removed) are applied over it. */
  size(content: Record<string, unknown>, changes?: ReadonlyMap<string, unknown>): number {
    let members = 0;
    let count = 0;
    for (const key in content) {
      if (!Object.prototype.hasOwnProperty.call(content, key)) continue;
      const value = changes?.has(key) ? changes.get(key) : content[key];
      if (value === undefined) continue;
      members += this.member(key, value);
      count++;
    }
    if (changes) {
      for (const [key, value] of changes) {
        if (value === undefined || Object.prototype.hasOwnProperty.call(content, key)) continue;
        members += this.member(key, value);
        count++;
      }
    }
    // Keys gone from the content keep their entry until measured again: forget them now and then.
    if (this.members.size > 2 * count + 1024) this.forgetAllBut(content, changes);
    return this.envelope - 2 + objectBytes(members, count);
  }

  private forgetAllBut(content: Record<string, unknown>, changes?: ReadonlyMap<string, unknown>): void {
    for (const key of [...this.members.keys()]) if (!Object.prototype.hasOwnProperty.call(content, key) && !changes?.has(key)) this.members.delete(key);
  }
}
