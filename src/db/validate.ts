/**
 * Checks made before anything is sent (docs/PRODUCT.md "Bad input gets a clear, typed error"):
 * - keys are strings; with one state event per key, the key is a state key, so at most 255 bytes
 *   and not starting with `@` (the spec reserves those for user IDs: only the sender's own ID is
 *   allowed) — https://spec.matrix.org/v1.19/client-server-api/#size-limits ,
 *   https://spec.matrix.org/v1.19/client-server-api/#put_matrixclientv3roomsroomidstateeventtypestatekey
 * - values are plain JSON: no undefined, functions, symbols, BigInt, cycles or class instances,
 *   which JSON.stringify would silently drop or mangle;
 * - in plaintext state, numbers are integers within ±(2^53−1): room versions 6 and later use
 *   canonical JSON, which has no floats — https://spec.matrix.org/v1.19/appendices/#canonical-json
 * - a value shaped exactly like an encrypted reference would be read back as one (opsdroid's
 *   weakness 9 in docs/OPSDROID.md "Weaknesses we fix"), so it is refused.
 */
import { utf8Length } from "../crypto/bytes.js";
import { InvalidKeyError, InvalidValueError } from "./errors.js";
import { isEncryptedRef, isMediaRefShape, sharesOneEvent, type SingleStateKey } from "./format.js";

const MAX_STATE_KEY_BYTES = 255;
const MAX_SAFE = Number.MAX_SAFE_INTEGER; // 2^53 - 1

export function validateKey(key: unknown, mode: SingleStateKey): asserts key is string {
  if (typeof key !== "string") throw new InvalidKeyError(key, `keys are strings, got ${typeof key}`);
  if (sharesOneEvent(mode)) return;
  const bytes = utf8Length(key);
  if (bytes > MAX_STATE_KEY_BYTES) throw new InvalidKeyError(key, `with singleStateKey: false the key is a state key, at most ${MAX_STATE_KEY_BYTES} bytes (this one is ${bytes})`);
  // URL parsers drop "." and ".." path segments even percent-encoded, so the PUT would hit another path.
  if (key === "." || key === "..") throw new InvalidKeyError(key, "with singleStateKey: false the key is a state key in the URL path, and '.' and '..' cannot be sent there");
  if (key.startsWith("@")) throw new InvalidKeyError(key, "with singleStateKey: false the key is a state key, and state keys starting with '@' are reserved for user IDs");
}

/** Validate a value about to be stored; `plaintext` when it goes into room state as it is. */
export function validateValue(key: string, value: unknown, plaintext: boolean): void {
  if (isEncryptedRef(value)) {
    throw new InvalidValueError(key, "$", "has exactly the shape of an encrypted reference ({\"encrypted_val\": ...}), which readers would take for one; wrap it in another object");
  }
  if (isMediaRefShape(value)) {
    throw new InvalidValueError(key, "$", "has exactly the shape of a media reference ({\"mxdb_media\": ...}), which readers would take for one; wrap it in another object");
  }
  walk(key, value, "$", plaintext, new Set());
}

function walk(key: string, value: unknown, path: string, plaintext: boolean, ancestors: Set<object>): void {
  switch (typeof value) {
    case "string":
    case "boolean":
      return;
    case "number":
      if (!Number.isFinite(value)) throw new InvalidValueError(key, path, `is ${value}, which JSON cannot represent`);
      if (plaintext && !Number.isInteger(value)) throw new InvalidValueError(key, path, `is the float ${value}; room state uses canonical JSON, which allows only integers (store it as a string, or in an encrypted room with shouldEncrypt)`);
      if (plaintext && Math.abs(value) > MAX_SAFE) throw new InvalidValueError(key, path, `is ${value}, outside ±(2^53−1), the integer range of canonical JSON`);
      return;
    case "undefined":
      throw new InvalidValueError(key, path, "is undefined, which JSON cannot represent (use null, or delete the key)");
    case "function":
    case "symbol":
      throw new InvalidValueError(key, path, `is a ${typeof value}, which JSON cannot represent`);
    case "bigint":
      throw new InvalidValueError(key, path, "is a BigInt, which JSON cannot represent (store it as a string)");
    case "object":
      break;
  }
  if (value === null) return;
  const obj = value as object;
  if (ancestors.has(obj)) throw new InvalidValueError(key, path, "refers back to itself (a cycle), which JSON cannot represent");
  ancestors.add(obj);
  if (Array.isArray(obj)) {
    for (let i = 0; i < obj.length; i++) {
      if (!(i in obj)) throw new InvalidValueError(key, `${path}[${i}]`, "is a hole in a sparse array, which JSON would turn into null");
      walk(key, obj[i], `${path}[${i}]`, plaintext, ancestors);
    }
  } else {
    const proto = Object.getPrototypeOf(obj);
    if (proto !== Object.prototype && proto !== null) {
      throw new InvalidValueError(key, path, `is a ${obj.constructor?.name ?? "non-plain object"}, not a plain object; convert it to plain JSON first`);
    }
    for (const [k, v] of Object.entries(obj)) walk(key, v, `${path}.${k}`, plaintext, ancestors);
  }
  ancestors.delete(obj);
}
