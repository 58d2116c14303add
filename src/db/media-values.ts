/**
 * Values too large for an event go to the homeserver's media repository (docs/LARGE-VALUES.md), and
 * the state (or, in an encrypted room, the Megolm-encrypted value event) holds a reference:
 *
 *   {"mxdb_media": {"v": 1, "url": "mxc://server/id", "size": N, "sha256": "..."}}         plaintext rooms
 *   {"mxdb_media": {"v": 1, "size": N, "file": {EncryptedFile: url, key, iv, hashes, v}}}  encrypted rooms
 *
 * `size` is the value's JSON in UTF-8 bytes; `sha256` (unpadded base64) is of those bytes, so a
 * download is checked before it is believed. In encrypted rooms the bytes are encrypted as the
 * spec's attachments are (src/crypto/attachments.ts) and the homeserver sees only ciphertext.
 */
import { decryptAttachment, encryptAttachment, sha256Base64, type EncryptedFileInfo } from "../crypto/attachments.js";
import { fromUtf8, utf8 } from "../crypto/bytes.js";
import type { HttpClient } from "../http/client.js";
import { mediaConfig } from "../http/endpoints/media/config.js";
import { download, parseMxc } from "../http/endpoints/media/download.js";
import { upload } from "../http/endpoints/media/upload.js";
import { MediaValueError, ValueTooLargeError } from "./errors.js";
import { isEncryptedRef, isMediaRefShape, MEDIA_FIELD } from "./format.js";

/**
 * A state event whose estimated size passes this goes to media, largest values first. 48 KiB of
 * the 64 KiB limit: the estimate already counts a worst-case envelope, and the rest is margin for
 * federation (events near the limit are known to fail there).
 */
export const MEDIA_BUDGET_BYTES = 48 * 1024;
/**
 * In an encrypted room the value travels in a Megolm event: base64 makes it a third bigger, so a
 * value's JSON above this goes to media.
 */
export const ENCRYPTED_INLINE_MAX_BYTES = 32 * 1024;

export interface MediaRef {
  [MEDIA_FIELD]: { v: 1; size: number; url?: string; sha256?: string; file?: EncryptedFileInfo & { url: string } };
}

/** A media reference (./format.ts says what counts as one). */
export function isMediaRef(value: unknown): value is MediaRef {
  return isMediaRefShape(value);
}

/** The largest reference this writes, for sizing an event before the upload has answered. */
export function standInRef(serverName: string): MediaRef {
  return { [MEDIA_FIELD]: { v: 1, url: `mxc://${serverName}/${"x".repeat(64)}`, size: 1e15, sha256: "h".repeat(43) } };
}

/** Decoded values kept by content hash, up to this many bytes of JSON. */
const CACHE_BYTES = 64 * 1024 * 1024;

export class MediaValues {
  private limit: Promise<number | undefined> | undefined;
  private readonly cache = new Map<string, string>();
  private cached = 0;

  /** `legacy`: the server predates authenticated media (spec v1.11): config and download on /_matrix/media/v3. */
  constructor(
    private readonly http: HttpClient,
    private readonly legacy = false,
  ) {}

  /** Refuse a value past the server's `m.upload.size` (asked once) before anything else is sent. */
  async checkLimit(key: string, size: number): Promise<void> {
    this.limit ??= this.http.send(mediaConfig, { legacy: this.legacy }).then(
      (c) => c["m.upload.size"],
      () => undefined,
    );
    const limit = await this.limit;
    if (limit !== undefined && size > limit) throw new ValueTooLargeError(key, size, limit);
  }

  /** Upload `json` (the value's JSON text), encrypted when `encrypt`, and return its reference. */
  async store(json: string, encrypt: boolean): Promise<MediaRef> {
    const bytes = utf8(json);
    if (!encrypt) {
      const sha256 = sha256Base64(bytes);
      const { content_uri } = await this.http.send(upload, { bytes, contentType: "application/json", filename: "mxdb-value.json" });
      this.remember(sha256, json);
      return { [MEDIA_FIELD]: { v: 1, url: content_uri, size: bytes.length, sha256 } };
    }
    const { ciphertext, info } = await encryptAttachment(bytes);
    const { content_uri } = await this.http.send(upload, { bytes: ciphertext, contentType: "application/octet-stream" });
    this.remember(info.hashes.sha256, json);
    return { [MEDIA_FIELD]: { v: 1, size: bytes.length, file: { ...info, url: content_uri } } };
  }

  /** The value a reference stands for: downloaded once, checked against its hash, decrypted. */
  async load(key: string, ref: MediaRef): Promise<unknown> {
    const r = ref[MEDIA_FIELD];
    const uri = r?.file?.url ?? r?.url;
    const where = parseMxc(typeof uri === "string" ? uri : "");
    const hash = r?.file?.hashes?.sha256 ?? r?.sha256;
    if (!where || typeof hash !== "string") throw new MediaValueError(key, String(uri), "the reference is malformed (no mxc:// URI or hash)");
    const known = this.cache.get(hash);
    if (known !== undefined) return JSON.parse(known) as unknown;
    let bytes: Uint8Array;
    try {
      bytes = await this.http.send(download, { ...where, legacy: this.legacy });
    } catch (e) {
      throw new MediaValueError(key, uri!, `the download failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    let json: string;
    try {
      if (r.file) json = fromUtf8(await decryptAttachment(bytes, r.file));
      else if (sha256Base64(bytes) !== hash) throw new Error("the downloaded bytes do not match their SHA-256");
      else json = fromUtf8(bytes);
      const value = JSON.parse(json) as unknown;
      this.remember(hash, json);
      return value;
    } catch (e) {
      throw new MediaValueError(key, uri!, e instanceof Error ? e.message : String(e), { cause: e });
    }
  }

  private remember(hash: string, json: string): void {
    if (json.length > CACHE_BYTES) return;
    this.cache.set(hash, json);
    this.cached += json.length;
    for (const [k, v] of this.cache) {
      if (this.cached <= CACHE_BYTES) break;
      this.cache.delete(k);
      this.cached -= v.length;
    }
  }
}

/** Measures an event content, with changes over it, and one member of it (./content-size.ts EventSizer). */
export interface ContentSizer {
  size(content: Record<string, unknown>, changes?: ReadonlyMap<string, unknown>): number;
  member(key: string, value: unknown): number;
}

/**
 * Which values of a state event go to media so that it fits the budget: none when it fits, else the
 * largest plain values first (the new one among them, and other keys that share the event) until it
 * does. The event is `content` with `changes` applied; `standIn` replaces a moved value while
 * measuring. Undefined when even moving every plain value would not make it fit. Each move changes
 * the size by the difference of two members, so a refusal costs one pass over the content.
 */
export function valuesToMove(content: Record<string, unknown>, changes: ReadonlyMap<string, unknown>, sizer: ContentSizer, standIn: unknown, budget = MEDIA_BUDGET_BYTES): string[] | undefined {
  let size = sizer.size(content, changes);
  if (size <= budget) return [];
  const values = new Map(Object.entries(content));
  for (const [k, v] of changes) if (v === undefined) values.delete(k);
  else values.set(k, v);
  const movable = [...values]
    .filter(([, v]) => !isMediaRef(v) && !isEncryptedRef(v) && !(typeof v === "object" && v !== null && "toJSON" in v))
    .map(([k, v]) => ({ key: k, saves: sizer.member(k, v) - sizer.member(k, standIn) }))
    .sort((a, b) => b.saves - a.saves);
  const moved: string[] = [];
  for (const { key, saves } of movable) {
    // Largest first: once a move does not shrink the event, no later one does.
    if (saves <= 0) return undefined;
    size -= saves;
    moved.push(key);
    if (size <= budget) return moved;
  }
  return undefined;
}

/** One value kept in the media repository (Memory.mediaReferences). */
export interface MediaReference {
  key: string;
  /** The `mxc://` URI of the upload. */
  uri: string;
  /** The value's JSON in bytes. */
  size: number;
  /** Uploaded as an encrypted attachment (an encrypted room). */
  encrypted: boolean;
}

/** The media references among `keys`, given what each key stores (an encrypted reference already opened). */
export async function mediaReferences(keys: string[], stored: (key: string) => Promise<unknown>): Promise<MediaReference[]> {
  const out: MediaReference[] = [];
  for (const key of keys) {
    const value = await stored(key);
    if (!isMediaRef(value)) continue;
    const r = value[MEDIA_FIELD];
    out.push({ key, uri: r.file?.url ?? r.url ?? "", size: r.size, encrypted: r.file !== undefined });
  }
  return out;
}
