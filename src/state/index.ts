/** The picture of each room: pure state reducers over sync data (no I/O). See ./README.md. */
export type { StateEvent, StateChange, RoomStateSnapshot, JoinedRoomSync, TimelineEvent } from "./types.js";
export { isStateEvent, isTimelineEvent } from "./types.js";
export { RoomState, RoomStateFormatError, type EncryptionSettings } from "./room-state.js";
export { reduceJoinedRoom, stateAfterEvents, type ReduceOptions, type ReduceResult, type SyncMode } from "./reduce.js";
export { redactContent, redactStateEvent, redactionTarget } from "./redaction.js";
