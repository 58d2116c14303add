/** The sync layer's keys in the shared Store; the crypto layer uses its own prefix. */
export const STORE_KEYS = {
  /** The `next_batch` of the last response whose state is saved. */
  nextBatch: "sync/next_batch",
  /**
   * JSON array of the joined room IDs whose snapshots go with `nextBatch`, written in the same atomic
   * write: at load, a listed room without its snapshot means the token cannot be trusted.
   */
  roomList: "sync/rooms",
  /** JSON {userId, filter, filterId}. */
  filter: "sync/filter",
  /** One RoomStateSnapshot (JSON) per joined room. */
  roomPrefix: "sync/room/",
  room: (roomId: string) => `sync/room/${roomId}`,
} as const;
