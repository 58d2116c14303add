/** The /sync loop: filter, since token, back-off, gaps, dispatch. See ./README.md. */
export { SyncLoop, type SyncLoopOptions, type SyncResponse } from "./sync-loop.js";
export { SYNC_FILTER, ensureFilter } from "./filter.js";
export { planSync, type SyncPlan, type ApplyOptions } from "./apply.js";
export { STORE_KEYS } from "./store-keys.js";
export type { ChangeFilter } from "./change-stream.js";
export { MalformedEventError, SyncTimeoutError } from "./errors.js";
export { loadRooms } from "./load.js";
export { sanitizeSyncReply } from "./sanitize.js";
