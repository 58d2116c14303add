/**
 * Encrypted attachments, as the spec defines them for files in encrypted rooms
 * (https://spec.matrix.org/v1.19/client-server-api/#sending-encrypted-attachments): AES-256-CTR with
 * a random key and a 16-byte IV whose low 8 bytes are zero (the counter), the SHA-256 of the
 * ciphertext to check the download, and the key as a JWK. The `EncryptedFile` that describes it
 * travels inside a Megolm-encrypted event, so the homeserver holds only ciphertext. WebCrypto and
 * @noble/hashes: no I/O.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { fromBase64, randomBytes, toBase64 } from "./bytes.js";

/** The spec's EncryptedFile (without `url`, which the upload gives). */
export interface EncryptedFileInfo {
  v: "v2";
  key: { kty: "oct"; key_ops: string[]; alg: "A256CTR"; k: string; ext: true };
  iv: string;
  hashes: { sha256: string };
}

export class AttachmentError extends Error {
  override readonly name = "AttachmentError";
}

/** Unpadded base64 of the SHA-256 of `bytes` (the spec's `hashes.sha256`). */
export function sha256Base64(bytes: Uint8Array): string {
  return toBase64(sha256(bytes), { pad: false });
}

function ctr(iv: Uint8Array): { name: "AES-CTR"; counter: Uint8Array<ArrayBuffer>; length: number } {
  return { name: "AES-CTR", counter: iv as Uint8Array<ArrayBuffer>, length: 64 };
}

export async function encryptAttachment(plaintext: Uint8Array, random: (n: number) => Uint8Array = randomBytes): Promise<{ ciphertext: Uint8Array; info: EncryptedFileInfo }> {
  const rawKey = random(32);
  // The high 8 bytes random, the low 8 (the block counter) zero, as the spec and every client do.
  const iv = new Uint8Array(16);
  iv.set(random(8));
  const key = await globalThis.crypto.subtle.importKey("raw", rawKey as Uint8Array<ArrayBuffer>, "AES-CTR", false, ["encrypt"]);
  const ciphertext = new Uint8Array(await globalThis.crypto.subtle.encrypt(ctr(iv), key, plaintext as Uint8Array<ArrayBuffer>));
  const info: EncryptedFileInfo = {
    v: "v2",
    key: { kty: "oct", key_ops: ["encrypt", "decrypt"], alg: "A256CTR", k: toBase64(rawKey, { url: true }), ext: true },
    iv: toBase64(iv, { pad: false }),
    hashes: { sha256: sha256Base64(ciphertext) },
  };
  rawKey.fill(0);
  return { ciphertext, info };
}

/** Check the ciphertext's hash, then decrypt. Throws AttachmentError on a wrong hash or a malformed description. */
export async function decryptAttachment(ciphertext: Uint8Array, info: EncryptedFileInfo): Promise<Uint8Array> {
  if (info?.key?.alg !== "A256CTR" || typeof info.key.k !== "string" || typeof info.iv !== "string" || typeof info.hashes?.sha256 !== "string") {
    throw new AttachmentError("not an encrypted file description (v2, A256CTR)");
  }
  if (sha256Base64(ciphertext) !== info.hashes.sha256.replace(/=+$/, "")) throw new AttachmentError("the downloaded bytes do not match their SHA-256");
  const rawKey = fromBase64(info.key.k);
  const iv = fromBase64(info.iv);
  if (rawKey.length !== 32 || iv.length !== 16) throw new AttachmentError("the key must be 32 bytes and the IV 16");
  const key = await globalThis.crypto.subtle.importKey("raw", rawKey as Uint8Array<ArrayBuffer>, "AES-CTR", false, ["decrypt"]);
  return new Uint8Array(await globalThis.crypto.subtle.decrypt(ctr(iv), key, ciphertext as Uint8Array<ArrayBuffer>));
}
