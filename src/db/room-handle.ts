/**
 * `db.room(ref)`: the memory's operations bound to one room. Unlike `inRoom`, it needs no
 * AsyncLocalStorage, so it works in every runtime, and the room is fixed when the handle is made.
 */
import type { Memory } from "./memory.js";
import type { MemoryChange } from "./watch.js";

export class RoomHandle {
  /** @internal Made by Memory.room. */
  constructor(
    private readonly memory: Memory,
    /** The room as given: a name from `rooms`, an alias or a room ID. */
    readonly ref: string,
  ) {}

  /** The value of `key` in this room, or undefined when absent. */
  get(key: string): Promise<unknown> {
    return this.memory.getIn(this.ref, key);
  }

  /** Store `value` under `key` in this room; resolves once the homeserver has accepted the write. */
  put(key: string, value: unknown): Promise<void> {
    return this.memory.putIn(this.ref, key, value);
  }

  /** Remove one key (resolves to its value) or several (to their values, in order). */
  delete(key: string): Promise<unknown>;
  delete(keys: string[]): Promise<unknown[]>;
  delete(keyOrKeys: string | string[]): Promise<unknown> {
    return this.memory.deleteIn(this.ref, keyOrKeys);
  }

  /** Every key in this room. */
  keys(): Promise<string[]> {
    return this.memory.keysIn(this.ref);
  }

  /** This room's memory as one object. */
  dump(): Promise<Record<string, unknown>> {
    return this.memory.dumpIn(this.ref);
  }

  /** Live changes in this room, other writers' included, until `return()`. */
  watch(): AsyncGenerator<MemoryChange, void, undefined> {
    return this.memory.watch({ room: this.ref });
  }
}
