/**
 * Drop malformed events from a raw /sync reply before it is parsed and applied. One odd event (a
 * field of the wrong type) must not fail the whole reply: the loop would retry the same `since`
 * for ever and the picture would stop moving. Each dropped event becomes a MalformedEventError for
 * onError; everything else is applied as usual. Pure, no I/O.
 * Spec: https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3sync (ClientEventWithoutRoomID,
 *       StrippedStateEvent, ToDevice, Event)
 */
import { MalformedEventError } from "./errors.js";

type Check = (e: Record<string, unknown>) => string | undefined;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Every event has a string type and an object content. */
const basic: Check = (e) => (typeof e.type !== "string" ? "type is not a string" : !isObject(e.content) ? "content is not an object" : undefined);

/** A room event as /sync sends it (timeline); state events also need a string state_key. */
const roomEvent: Check = (e) => {
  const why = basic(e);
  if (why) return why;
  if (typeof e.event_id !== "string") return "event_id is not a string";
  if (typeof e.sender !== "string") return "sender is not a string";
  if (typeof e.origin_server_ts !== "number") return "origin_server_ts is not a number";
  if (e.state_key !== undefined && typeof e.state_key !== "string") return "state_key is not a string";
  if (e.unsigned !== undefined && !isObject(e.unsigned)) return "unsigned is not an object";
  return undefined;
};
const stateEvent: Check = (e) => roomEvent(e) ?? (typeof e.state_key !== "string" ? "state_key is not a string" : undefined);
const strippedState: Check = (e) => basic(e) ?? (typeof e.state_key !== "string" ? "state_key is not a string" : typeof e.sender !== "string" ? "sender is not a string" : undefined);
const toDevice: Check = (e) => basic(e) ?? (typeof e.sender !== "string" ? "sender is not a string" : undefined);

export interface Sanitized {
  /** The reply with malformed events left out (a copy where something changed; the input is not touched). */
  body: unknown;
  dropped: MalformedEventError[];
}

export function sanitizeSyncReply(body: unknown): Sanitized {
  const dropped: MalformedEventError[] = [];
  if (!isObject(body)) return { body, dropped };
  const out: Record<string, unknown> = { ...body };
  for (const name of ["to_device"]) out[name] = list(out[name], name, toDevice, dropped);
  for (const name of ["account_data", "presence"]) out[name] = list(out[name], name, basic, dropped);
  if (isObject(out.rooms)) {
    const rooms: Record<string, unknown> = { ...out.rooms };
    rooms.join = eachRoom(rooms.join, "rooms.join", (section, where) => ({
      ...section,
      state: list(section.state, `${where}.state`, stateEvent, dropped),
      state_after: list(section.state_after, `${where}.state_after`, stateEvent, dropped),
      "org.matrix.msc4222.state_after": list(section["org.matrix.msc4222.state_after"], `${where}.org.matrix.msc4222.state_after`, stateEvent, dropped),
      timeline: list(section.timeline, `${where}.timeline`, roomEvent, dropped),
      ephemeral: list(section.ephemeral, `${where}.ephemeral`, basic, dropped),
      account_data: list(section.account_data, `${where}.account_data`, basic, dropped),
    }));
    rooms.invite = eachRoom(rooms.invite, "rooms.invite", (section, where) => ({ ...section, invite_state: list(section.invite_state, `${where}.invite_state`, strippedState, dropped) }));
    rooms.leave = eachRoom(rooms.leave, "rooms.leave", (section, where) => ({
      ...section,
      state: list(section.state, `${where}.state`, stateEvent, dropped),
      timeline: list(section.timeline, `${where}.timeline`, roomEvent, dropped),
    }));
    out.rooms = rooms;
  }
  // Keys that were absent stay absent (the schema and the reducers tell "absent" from "empty").
  for (const k of Object.keys(out)) if (out[k] === undefined && !(k in body)) delete out[k];
  return { body: out, dropped };
}

function eachRoom(map: unknown, where: string, fix: (section: Record<string, unknown>, where: string) => Record<string, unknown>): unknown {
  if (!isObject(map)) return map;
  const out: Record<string, unknown> = {};
  for (const [roomId, section] of Object.entries(map)) {
    if (!isObject(section)) {
      out[roomId] = section; // not an event: the schema will refuse the reply
      continue;
    }
    const fixed = fix(section, `${where}.${roomId}`);
    for (const k of Object.keys(fixed)) if (fixed[k] === undefined && !(k in section)) delete fixed[k];
    out[roomId] = fixed;
  }
  return out;
}

/** `{ events: [...] }` with the malformed entries left out. */
function list(block: unknown, where: string, check: Check, dropped: MalformedEventError[]): unknown {
  if (!isObject(block) || !Array.isArray(block.events)) return block;
  const kept: unknown[] = [];
  block.events.forEach((e: unknown, i: number) => {
    const why = isObject(e) ? check(e) : "not an object";
    if (why === undefined) kept.push(e);
    else dropped.push(new MalformedEventError(`${where}.events[${i}]`, why, isObject(e) && typeof e.event_id === "string" ? e.event_id : undefined));
  });
  return kept.length === block.events.length ? block : { ...block, events: kept };
}
