/** opsdroid's `memory_in_event_room` decorator, for a Memory. */
import type { Memory } from "./memory.js";

/**
 * opsdroid's `memory_in_event_room`: wrap a handler so the memory inside it uses the room the
 * message came from (`message.target`, a room ID).
 */
export function memoryInEventRoom<M extends { target: string }, A extends unknown[], R>(
  db: Memory,
  handler: (message: M, ...rest: A) => Promise<R> | R,
): (message: M, ...rest: A) => Promise<R> {
  return (message, ...rest) => db.inRoom(message.target, () => handler(message, ...rest));
}
