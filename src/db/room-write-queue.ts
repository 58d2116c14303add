/**
 * The state writes of one room: at most `perRoom` in flight at once, each taking a place in the
 * memory's shared queue (`writeConcurrency`, every room together) only when its room lets it start.
 *
 * Why: state PUTs sent into one room at once get the same parents, the room's DAG forks, and Synapse
 * resolves state across the forks for every event after them, so each PUT gets slower as the room
 * grows (bench/results/encrypted.md "State PUTs in flight"). Writes to different rooms stay parallel.
 */
import PQueue from "p-queue";

/** What a writer needs of its queue (./writer.ts): run this write when a place is free. */
export interface WriteQueue {
  add(task: () => Promise<void>): Promise<unknown>;
}

/**
 * Default `roomWriteConcurrency`: no per-room limit. One in flight halves bulk writes into a room of
 * hundreds of keys, but in a fresh room it gives 46% of raw concurrent PUTs where the product's
 * throughput target asks 90% (bench/results/room-write-queue.md), so it is a choice, not the default.
 */
export const DEFAULT_ROOM_WRITE_CONCURRENCY = Infinity;

/** A room's queue over the shared one; `perRoom` Infinity gives the shared queue itself (no per-room limit). */
export function roomWriteQueue(shared: WriteQueue, perRoom: number): WriteQueue {
  if (perRoom === Infinity) return shared;
  const room = new PQueue({ concurrency: perRoom });
  // The room's place is held while the task waits for a shared one: it is the room's next write either way.
  return { add: (task) => room.add(() => shared.add(task)) };
}
