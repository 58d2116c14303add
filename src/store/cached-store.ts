/**
 * A Store read once into memory and answered from there, whose writes are serialised and reach
 * memory only after they reached the backing storage. FileStore and IndexedDBStore are this plus
 * how they read everything and how they persist one change. No I/O here.
 */
import type { Store } from "./store.js";

/** Every Store refuses a whole setMany, before writing any of it, when a value is not a string. */
export function checkValues(changes: Record<string, string | undefined>): void {
  for (const [k, v] of Object.entries(changes)) if (v !== undefined && typeof v !== "string") throw new TypeError(`store values are strings; ${k} is ${typeof v}`);
}

/** `changes` applied to `entries` in place (undefined deletes). */
export function applyChanges(entries: Map<string, string>, changes: Record<string, string | undefined>): Map<string, string> {
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined) entries.delete(k);
    else entries.set(k, v);
  }
  return entries;
}

export abstract class CachedStore implements Store {
  private entries: Promise<Map<string, string>> | undefined;
  /** The tail of the write chain: each write starts when the previous one has finished. */
  private queue: Promise<unknown> = Promise.resolve();

  /** Every entry, from the backing storage. */
  protected abstract readAll(): Promise<Map<string, string>>;
  /** Make `changes` durable; `current` is the store before them (not to be changed). */
  protected abstract persist(changes: Record<string, string | undefined>, current: ReadonlyMap<string, string>): Promise<void>;

  async get(key: string): Promise<string | undefined> {
    return (await this.load()).get(key);
  }

  async set(key: string, value: string): Promise<void> {
    await this.setMany({ [key]: value });
  }

  async delete(key: string): Promise<void> {
    await this.setMany({ [key]: undefined });
  }

  async keys(prefix = ""): Promise<string[]> {
    return [...(await this.load()).keys()].filter((k) => k.startsWith(prefix)).sort();
  }

  setMany(changes: Record<string, string | undefined>): Promise<void> {
    const run = this.queue.then(async () => {
      checkValues(changes);
      const entries = await this.load();
      await this.persist(changes, entries);
      // Only what reached the storage becomes what reads are answered from.
      applyChanges(entries, changes);
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Waits for the writes already asked for. */
  async close(): Promise<void> {
    await this.queue;
  }

  /** Forget what was read: the next call reads the storage again. */
  protected forget(): void {
    this.entries = undefined;
  }

  private load(): Promise<Map<string, string>> {
    if (!this.entries) {
      const reading = this.readAll();
      this.entries = reading;
      // A failed read (a damaged file, storage blocked) is tried again by the next call.
      reading.catch(() => {
        if (this.entries === reading) this.entries = undefined;
      });
    }
    return this.entries;
  }
}
