/**
 * Live change streams: each `changes()` iterator has its own buffer, so a slow consumer loses
 * nothing and a fast one waits. `return()` (or `break` in for-await) unsubscribes; the loop's end
 * finishes every stream.
 */
import type { StateChange } from "../state/types.js";

export interface ChangeFilter {
  roomId?: string;
  type?: string;
}

export function matches(filter: ChangeFilter | undefined, c: StateChange): boolean {
  return (filter?.roomId === undefined || filter.roomId === c.roomId) && (filter?.type === undefined || filter.type === c.type);
}

export class ChangeStreams {
  private readonly streams = new Set<BufferedStream>();
  private closed = false;

  open(filter?: ChangeFilter): AsyncIterableIterator<StateChange> {
    const stream = new BufferedStream(filter, (s) => this.streams.delete(s));
    if (this.closed) stream.end();
    else this.streams.add(stream);
    return stream;
  }

  push(change: StateChange): void {
    for (const s of this.streams) s.offer(change);
  }

  /** The loop ended: every stream finishes after its buffered changes. */
  close(): void {
    this.closed = true;
    for (const s of [...this.streams]) s.end();
    this.streams.clear();
  }
}

class BufferedStream implements AsyncIterableIterator<StateChange> {
  private readonly buffer: StateChange[] = [];
  private waiter: ((r: IteratorResult<StateChange>) => void) | undefined;
  private ended = false;

  constructor(
    private readonly filter: ChangeFilter | undefined,
    private readonly unsubscribe: (s: BufferedStream) => void,
  ) {}

  offer(change: StateChange): void {
    if (this.ended || !matches(this.filter, change)) return;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w({ value: change, done: false });
    } else this.buffer.push(change);
  }

  end(): void {
    this.ended = true;
    this.unsubscribe(this);
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w({ value: undefined, done: true });
    }
  }

  next(): Promise<IteratorResult<StateChange>> {
    const value = this.buffer.shift();
    if (value) return Promise.resolve({ value, done: false });
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => (this.waiter = resolve));
  }

  return(): Promise<IteratorResult<StateChange>> {
    this.buffer.length = 0;
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<StateChange> {
    return this;
  }
}
