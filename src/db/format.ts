/**
 * opsdroid's data format (docs/OPSDROID.md; opsdroid/database/matrix/__init__.py): which state
 * event holds a key, what its content looks like, what an encrypted reference is, and how the
 * legacy `opsdroid.database` type is migrated. Pure functions: the contract with opsdroid readers.
 */
export const EVENT_TYPE = "dev.opsdroid.database";
export const LEGACY_EVENT_TYPE = "opsdroid.database";
/** The room event type used for an encrypted value (sent as m.room.encrypted on the wire). */
export const VALUE_EVENT_TYPE = EVENT_TYPE;

/** opsdroid's `single_state_key`: true (default), false, or a fixed state key. */
export type SingleStateKey = boolean | string;

/**
 * The state key holding `key`. opsdroid computes `"" if single is True else single or key`, so an
 * empty string behaves like false; we do the same.
 */
export function stateKeyFor(mode: SingleStateKey, key: string): string {
  if (mode === true) return "";
  return typeof mode === "string" && mode !== "" ? mode : key;
}

/** Whether all keys share one state event (and so one dictionary). */
export function sharesOneEvent(mode: SingleStateKey): boolean {
  return mode === true || (typeof mode === "string" && mode !== "");
}

/** `{"encrypted_val": "$event"}`: exactly one field, as opsdroid tests it. */
export interface EncryptedRef {
  encrypted_val: string;
}

export function isEncryptedRef(value: unknown): value is EncryptedRef {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return keys.length === 1 && keys[0] === "encrypted_val";
}

/** The field of a reference to a value kept in the media repository (src/db/media-values.ts, docs/LARGE-VALUES.md). */
export const MEDIA_FIELD = "mxdb_media";

/** `{"mxdb_media": ...}`: exactly one field, like an encrypted reference; user values may not have this shape. */
export function isMediaRefShape(value: unknown): boolean {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return keys.length === 1 && keys[0] === MEDIA_FIELD;
}

/** A change to one key. `value` is what goes into the state content (a plain value or a reference). */
export type Op = { kind: "put"; key: string; value: unknown } | { kind: "delete"; key: string };

export const hasOwn = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

/** Apply ops in order to a copy of `content`. */
export function applyOps(content: Record<string, unknown>, ops: Iterable<Op>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...content };
  for (const op of ops) {
    if (op.kind === "put") out[op.key] = op.value;
    else delete out[op.key];
  }
  return out;
}

/**
 * A deep copy of a JSON value: what `get` hands out, so a caller changing its result cannot change
 * the memory's picture of the room (nor what a queued write will send).
 */
export function cloneJson<T>(value: T): T {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map(cloneJson) as T;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(value)) out[k] = cloneJson((value as Record<string, unknown>)[k]);
  return out as T;
}

/** Deep equality of JSON values (key order ignored), for "skip if unchanged" and repair checks. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => jsonEqual(x, bb[i]));
  }
  const ak = Object.keys(a);
  const bo = b as Record<string, unknown>;
  return ak.length === Object.keys(bo).length && ak.every((k) => hasOwn(bo, k) && jsonEqual((a as Record<string, unknown>)[k], bo[k]));
}

/**
 * A legacy `opsdroid.database` event's content as the `dev.opsdroid.database` content the migration
 * makes of it: as is when keys share an event, wrapped as `{state_key: content}` when they do not.
 */
export function legacyAsCurrent(mode: SingleStateKey, stateKey: string, content: Record<string, unknown>): Record<string, unknown> {
  return mode ? content : { [stateKey]: content };
}

/** A legacy event to copy to the new type, and then redact. */
export interface LegacyMigration {
  stateKey: string;
  content: Record<string, unknown>;
  redacts: string;
}

/**
 * opsdroid's migration: only when the room has no `dev.opsdroid.database` event at all, each
 * `opsdroid.database` event with non-empty content is copied under the same state key; when
 * single_state_key is falsy the content is wrapped as `{state_key: content}`.
 */
export function planLegacyMigration(
  current: ReadonlyMap<string, { content: Record<string, unknown> }>,
  legacy: ReadonlyMap<string, { content: Record<string, unknown>; event_id: string }>,
  mode: SingleStateKey,
): LegacyMigration[] {
  if (current.size > 0) return [];
  const plan: LegacyMigration[] = [];
  for (const [stateKey, event] of legacy) {
    if (Object.keys(event.content).length === 0) continue;
    plan.push({ stateKey, content: legacyAsCurrent(mode, stateKey, event.content), redacts: event.event_id });
  }
  return plan;
}
