/**
 * FileStore's append-only log (./file-store.ts): one line per acknowledged setMany, so a write costs
 * what it changed rather than the whole store. A line is
 *
 *   <JSON {"c": {key: value | null}}> TAB <FNV-1a 32 of the JSON, 8 hex digits> LF
 *
 * (null deletes the key). A crash can leave the last line torn: cut short, or with bytes that never
 * reached the disk. Such a line fails its checksum or has no LF; it and anything after it belong to a
 * setMany that never resolved, so they are dropped at load and the file is cut back to the last whole
 * line. No I/O here: encoding and decoding only.
 */

/** 32-bit FNV-1a over the UTF-16 code units: cheap, and enough to tell a torn line from a whole one. */
export function fnv1a(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, "0");
}

export function encodeLogLine(changes: Record<string, string | undefined>): string {
  const c: Record<string, string | null> = {};
  for (const [k, v] of Object.entries(changes)) c[k] = v === undefined ? null : v;
  const json = JSON.stringify({ c });
  return `${json}\t${fnv1a(json)}\n`;
}

export interface DecodedLog {
  /** Each whole line's changes, in order (null: delete). */
  records: Record<string, string | null>[];
  /** Length in UTF-8 bytes of the whole lines: the file is cut back to this. */
  goodBytes: number;
  /** True when something after the last whole line was dropped. */
  torn: boolean;
}

const encoder = new TextEncoder();

export function decodeLog(text: string): DecodedLog {
  const records: Record<string, string | null>[] = [];
  let offset = 0;
  let goodBytes = 0;
  for (;;) {
    const end = text.indexOf("\n", offset);
    if (end < 0) break;
    const line = text.slice(offset, end);
    const tab = line.lastIndexOf("\t");
    const json = tab < 0 ? "" : line.slice(0, tab);
    if (tab < 0 || fnv1a(json) !== line.slice(tab + 1)) break;
    let parsed: { c?: unknown };
    try {
      parsed = JSON.parse(json) as { c?: unknown };
    } catch {
      break;
    }
    if (typeof parsed.c !== "object" || parsed.c === null) break;
    records.push(parsed.c as Record<string, string | null>);
    goodBytes += encoder.encode(line).length + 1;
    offset = end + 1;
  }
  return { records, goodBytes, torn: offset < text.length };
}
