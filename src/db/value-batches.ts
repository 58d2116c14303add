/**
 * Encrypted values of one room, coalesced into as few value events as their size allows, as the
 * state writer coalesces plaintext puts (docs/ENCRYPTION.md "Writing many values").
 *
 * opsdroid's writer sends each value in its own event, content `{key: value}`; its reader, like ours,
 * takes `content[key]` of the referenced event, so an event that carries several keys reads the
 * same, and the state references keep opsdroid's shape byte for byte (docs/OPSDROID.md "Encrypted
 * values"). Fewer events matter because the homeserver's cost per event is most of a put's time.
 *
 *   1. add() queues a value. Values added in the same turn, and those added while the room's
 *      previous round is being sent, go out together in the next round.
 *   2. A round is split into events (splitIntoEvents): at most ENCRYPTED_INLINE_MAX_BYTES of content
 *      JSON each (a single larger value goes alone, as before), and each key at most once per event,
 *      so two puts of one key keep two values, each behind its own reference.
 *   3. The events of a round are sent together; each value resolves with its event's ID, or rejects
 *      with its event's error.
 */
import { utf8Length } from "../crypto/bytes.js";
import { macrotask } from "../http/runtime.js";
import { ENCRYPTED_INLINE_MAX_BYTES } from "./media-values.js";

/** Encrypts `content` and sends it as one value event; resolves with the event ID. */
export type SendValueEvent = (roomId: string, content: Record<string, unknown>) => Promise<string>;

export interface QueuedValue {
  key: string;
  value: unknown;
  /** Its share of the content's JSON: `"key":value,`. */
  bytes: number;
}

interface Waiting extends QueuedValue {
  resolve: (eventId: string) => void;
  reject: (e: unknown) => void;
}

export class ValueBatches {
  /** Per room: values not yet in a round; present while the room has a round scheduled or running. */
  private readonly rooms = new Map<string, Waiting[]>();

  constructor(
    private readonly sendEvent: SendValueEvent,
    private readonly defer: (fn: () => void) => void = macrotask,
    private readonly budgetBytes: number = ENCRYPTED_INLINE_MAX_BYTES,
  ) {}

  /** Queue one value; resolves with the ID of the event that carries it. */
  add(roomId: string, key: string, value: unknown): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      const entry: Waiting = { key, value, bytes: entryBytes(key, value), resolve, reject };
      const waiting = this.rooms.get(roomId);
      if (waiting) {
        waiting.push(entry);
        return;
      }
      const fresh = [entry];
      this.rooms.set(roomId, fresh);
      this.defer(() => void this.run(roomId, fresh));
    });
  }

  private async run(roomId: string, waiting: Waiting[]): Promise<void> {
    while (waiting.length > 0) {
      const events = splitIntoEvents(waiting.splice(0), this.budgetBytes);
      await Promise.all(
        events.map(async (values) => {
          try {
            const eventId = await this.sendEvent(roomId, Object.fromEntries(values.map((v) => [v.key, v.value])));
            for (const v of values) v.resolve(eventId);
          } catch (e) {
            for (const v of values) v.reject(e);
          }
        }),
      );
    }
    this.rooms.delete(roomId);
  }
}

function entryBytes(key: string, value: unknown): number {
  return utf8Length(JSON.stringify(key)) + utf8Length(JSON.stringify(value) ?? "null") + 2;
}

/**
 * Queued values, in order, cut into events: a new event starts when the next value would pass the
 * budget (content JSON, braces included) or its key is already in the current one.
 */
export function splitIntoEvents<V extends QueuedValue>(values: readonly V[], budgetBytes: number): V[][] {
  const events: V[][] = [];
  let current: V[] = [];
  let keys = new Set<string>();
  let bytes = 2;
  for (const v of values) {
    if (current.length > 0 && (keys.has(v.key) || bytes + v.bytes > budgetBytes)) {
      events.push(current);
      current = [];
      keys = new Set();
      bytes = 2;
    }
    current.push(v);
    keys.add(v.key);
    bytes += v.bytes;
  }
  if (current.length > 0) events.push(current);
  return events;
}
