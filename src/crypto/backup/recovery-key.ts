/**
 * The recovery key encoding (https://spec.matrix.org/v1.19/client-server-api/#recovery-key):
 * 0x8B 0x01, the 32-byte key, then a parity byte (XOR of every byte before it), in base58 with the
 * bitcoin alphabet, shown in groups of 4 separated by spaces. Decoding ignores whitespace.
 * @noble/hashes has no base58, so the codec is here (big-number division in base 256, small input).
 */
import { RecoveryKeyFormatError } from "./errors.js";

const ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
const PREFIX = [0x8b, 0x01];
const KEY_LENGTH = 32;

export function base58Encode(bytes: Uint8Array): string {
  const digits: number[] = []; // little-endian base-58 digits
  for (const byte of bytes) {
    let carry = byte;
    for (let i = 0; i < digits.length; i++) {
      carry += digits[i]! << 8;
      digits[i] = carry % 58;
      carry = Math.floor(carry / 58);
    }
    while (carry > 0) {
      digits.push(carry % 58);
      carry = Math.floor(carry / 58);
    }
  }
  let out = "";
  for (let i = 0; i < bytes.length && bytes[i] === 0; i++) out += ALPHABET[0];
  for (let i = digits.length - 1; i >= 0; i--) out += ALPHABET[digits[i]!];
  return out;
}

/** Throws RecoveryKeyFormatError("characters") on a character outside the alphabet. */
export function base58Decode(text: string): Uint8Array {
  const bytes: number[] = []; // little-endian base-256
  for (const ch of text) {
    let carry = ALPHABET.indexOf(ch);
    if (carry < 0) throw new RecoveryKeyFormatError("characters");
    for (let i = 0; i < bytes.length; i++) {
      carry += bytes[i]! * 58;
      bytes[i] = carry & 0xff;
      carry >>= 8;
    }
    while (carry > 0) {
      bytes.push(carry & 0xff);
      carry >>= 8;
    }
  }
  for (let i = 0; i < text.length && text[i] === ALPHABET[0]; i++) bytes.push(0);
  return Uint8Array.from(bytes.reverse());
}

/** The 32-byte key as the user sees it: "EsTc LW2K …" (12 groups of 4). */
export function encodeRecoveryKey(key: Uint8Array): string {
  if (key.length !== KEY_LENGTH) throw new RangeError("a recovery key encodes 32 bytes");
  const buf = new Uint8Array(PREFIX.length + KEY_LENGTH + 1);
  buf.set(PREFIX);
  buf.set(key, PREFIX.length);
  buf[buf.length - 1] = buf.subarray(0, buf.length - 1).reduce((p, b) => p ^ b, 0);
  const text = base58Encode(buf);
  buf.fill(0);
  return text.match(/.{1,4}/g)!.join(" ");
}

/** The 32-byte key from its text; whitespace anywhere is ignored. Throws RecoveryKeyFormatError. */
export function decodeRecoveryKey(text: string): Uint8Array {
  const bytes = base58Decode(text.replace(/\s+/g, ""));
  if (bytes.length !== PREFIX.length + KEY_LENGTH + 1) throw new RecoveryKeyFormatError("length");
  if (bytes[0] !== PREFIX[0] || bytes[1] !== PREFIX[1]) throw new RecoveryKeyFormatError("prefix");
  const parity = bytes.subarray(0, bytes.length - 1).reduce((p, b) => p ^ b, 0);
  if (parity !== bytes[bytes.length - 1]) throw new RecoveryKeyFormatError("parity");
  const key = bytes.slice(PREFIX.length, PREFIX.length + KEY_LENGTH);
  bytes.fill(0);
  return key;
}
