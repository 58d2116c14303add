/**
 * What a sync reply cannot say, asked of the server before the reply is saved: the classic path's
 * gaps and forks (docs/PROTOCOL.md "Sync"). Each answer goes into the plan, never into the room
 * state in use: that is swapped only when the whole response is saved.
 */
import type { HttpClient } from "../http/client.js";
import { getAllState } from "../http/endpoints/state/get-all-state.js";
import { getStateEvent } from "../http/endpoints/state/get-state.js";
import { isMatrixError } from "../http/errors.js";
import type { RoomState } from "../state/room-state.js";
import { isStateEvent, type StateChange } from "../state/types.js";
import { saveRoom, type SyncPlan } from "./apply.js";

export interface ServerAsk {
  http: HttpClient;
  signal: AbortSignal;
  /** The room state in use (a plan's room that is this one is copied before it is changed). */
  held(roomId: string): RoomState | undefined;
  report(e: unknown): void;
  saveRooms: boolean;
}

/**
 * A classic response with a gap may miss state stored on a concurrent branch before the timeline
 * (a bench run saw a fresh open after 100 concurrent per-key puts hold 76 to 84 of them),
 * so take the room's whole current state from the server
 * (https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3roomsroomidstate).
 */
export async function fillGaps(plan: SyncPlan, ask: ServerAsk): Promise<void> {
  for (const roomId of plan.gaps) {
    const held = plan.rooms.get(roomId);
    if (!held) continue;
    let events: readonly unknown[];
    try {
      events = await ask.http.send(getAllState, { roomId }, { signal: ask.signal });
    } catch (e) {
      ask.report(e);
      continue;
    }
    const room = held === ask.held(roomId) ? held.clone() : held;
    const changes: StateChange[] = [];
    const present = new Set<string>();
    for (const e of events) {
      if (!isStateEvent(e)) continue;
      present.add(JSON.stringify([e.type, e.state_key]));
      const c = room.put(e);
      if (c) changes.push(c);
    }
    for (const e of [...room.events()]) {
      if (present.has(JSON.stringify([e.type, e.state_key]))) continue;
      const c = room.remove(e.type, e.state_key);
      if (c) changes.push(c);
    }
    // The whole state is now the server's: the fork checks of this room have their answer.
    plan.uncertain = plan.uncertain.filter((u) => u.roomId !== roomId);
    if (changes.length === 0) continue;
    plan.rooms.set(roomId, room);
    plan.changes.push(...changes);
    if (ask.saveRooms) saveRoom(plan, room, changes);
  }
}

/**
 * A classic response listed a state event that forked off an older parent: whether it won state
 * resolution is not in the response, so ask for the key's current event
 * (https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3roomsroomidstateeventtypestatekey).
 */
export async function settleForks(plan: SyncPlan, ask: ServerAsk): Promise<void> {
  for (const u of plan.uncertain) {
    const held = plan.rooms.get(u.roomId);
    if (!held) continue;
    let event: unknown;
    try {
      event = await ask.http.send(getStateEvent, { roomId: u.roomId, eventType: u.type, stateKey: u.stateKey }, { signal: ask.signal });
    } catch (e) {
      if (isMatrixError(e, "M_NOT_FOUND")) event = undefined;
      else {
        ask.report(e);
        continue;
      }
    }
    // A copy: the room state in use is swapped only when the whole response is saved.
    const room = held === ask.held(u.roomId) ? held.clone() : held;
    const change = event && isStateEvent(event) ? room.put(event) : room.remove(u.type, u.stateKey);
    if (!change) continue;
    plan.rooms.set(u.roomId, room);
    plan.changes.push(change);
    if (ask.saveRooms) saveRoom(plan, room, [change]);
  }
}
