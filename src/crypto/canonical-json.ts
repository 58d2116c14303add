/**
 * Canonical JSON and JSON signing.
 * https://spec.matrix.org/v1.19/appendices/#canonical-json
 * https://spec.matrix.org/v1.19/appendices/#signing-json
 */

import type { CryptoBackend } from "./backend.js";

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export class CanonicalJsonError extends Error {
  override readonly name = "CanonicalJsonError";
  readonly code = "M_CANONICAL_JSON";
}

const MAX_SAFE = 2 ** 53 - 1;

/** Compare by Unicode code point, not UTF-16 unit (differs for astral vs U+E000–U+FFFF). */
function compareCodePoints(a: string, b: string): number {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done || y.done) return x.done && y.done ? 0 : x.done ? -1 : 1;
    const cx = x.value.codePointAt(0)!;
    const cy = y.value.codePointAt(0)!;
    if (cx !== cy) return cx - cy;
  }
}

/** Strings: the grammar's escapes only (\" \\ \b \f \n \r \t, \u00XX for other controls), UTF-8 otherwise. */
function encodeString(s: string): string {
  // JSON.stringify already produces exactly the grammar's short escapes and lower-case \u00XX for
  // the other C0 controls, and leaves every other code point (including U+2028/9) unescaped.
  // Lone surrogates become \udXXX escapes (well-formed JSON.stringify), which is not UTF-8-encodable
  // anyway; refuse them so a signature is never computed over bytes another implementation can't produce.
  if (/\p{Surrogate}/u.test(s)) throw new CanonicalJsonError("lone surrogate in string");
  return JSON.stringify(s);
}

function encode(value: unknown, out: string[]): void {
  if (value === null) return void out.push("null");
  switch (typeof value) {
    case "boolean":
      return void out.push(value ? "true" : "false");
    case "number":
      // 1. Integers only, within ±(2^53−1); -0 is written as 0.
      if (!Number.isInteger(value) || Math.abs(value) > MAX_SAFE) {
        throw new CanonicalJsonError(`number ${value} is not an integer in [-(2^53)+1, 2^53-1]`);
      }
      return void out.push(Object.is(value, -0) ? "0" : String(value));
    case "string":
      return void out.push(encodeString(value));
    case "object": {
      if (Array.isArray(value)) {
        out.push("[");
        value.forEach((v, i) => {
          if (i > 0) out.push(",");
          encode(v, out);
        });
        return void out.push("]");
      }
      // 2. Object members sorted by key code point; undefined members are absent (as JSON.stringify).
      const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
      entries.sort(([a], [b]) => compareCodePoints(a, b));
      out.push("{");
      entries.forEach(([k, v], i) => {
        if (i > 0) out.push(",");
        out.push(encodeString(k), ":");
        encode(v, out);
      });
      return void out.push("}");
    }
    default:
      throw new CanonicalJsonError(`cannot encode ${typeof value}`);
  }
}

/** The canonical JSON text; encode it as UTF-8 for signing (libolm and node:crypto both do). */
export function canonicalJson(value: unknown): string {
  const out: string[] = [];
  encode(value, out);
  return out.join("");
}

/** "Signing Details": the object without `signatures` and `unsigned`, canonically encoded. */
export function signingPayload(obj: Record<string, unknown>): string {
  const { signatures: _s, unsigned: _u, ...rest } = obj;
  return canonicalJson(rest);
}

/** Checking for a Signature, steps 1–7, for one entity and one ed25519 key. */
export function hasValidSignature(
  backend: CryptoBackend,
  obj: Record<string, unknown>,
  signer: string,
  keyId: string,
  publicKey: string,
): boolean {
  const sigs = obj.signatures as Record<string, Record<string, unknown>> | undefined;
  const sig = sigs?.[signer]?.[keyId];
  if (typeof sig !== "string") return false;
  let payload: string;
  try {
    payload = signingPayload(obj);
  } catch {
    return false;
  }
  return backend.verifyEd25519(publicKey, payload, sig);
}
