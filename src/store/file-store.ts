/**
 * A Store in a directory of its own, as two files:
 *   mxdb-store.json  the base: { "format": "mxdb-store", "version": 1, "entries": { key: value } }
 *   mxdb-store.log   what changed since, one checksummed line per setMany (./store-log.ts)
 * A write appends its line and fsyncs it: it costs what it changed, not the whole store. When the
 * log outgrows the base (and 1 MiB), the base is rewritten atomically (a temporary file, fsync,
 * rename over the old one, fsync the directory) and the log emptied. Replaying the log over any base
 * it followed gives the same entries, so a crash at any point leaves the last acknowledged state; a
 * torn last line (a setMany that never resolved) is dropped at load. Stores written before the log
 * existed are a base alone and read as before.
 * Modes 0600 and 0700: the files hold crypto keys. Writes are serialised; reads are answered from
 * memory after the first load. One process at a time per directory.
 */
import { mkdir, open, readdir, readFile, rename, stat, truncate, unlink } from "node:fs/promises";
import { join } from "node:path";
import { decodeLog, encodeLogLine } from "./store-log.js";
import { applyChanges, CachedStore } from "./cached-store.js";
import { StoreFormatError } from "./store.js";

export const FILE_STORE_NAME = "mxdb-store.json";
export const FILE_STORE_LOG = "mxdb-store.log";
/** The log is folded into the base once it is bigger than both of these. */
const MIN_COMPACT_BYTES = 1024 * 1024;
export const FILE_STORE_FORMAT = "mxdb-store";
export const FILE_STORE_VERSION = 1;
const TEMP_PREFIX = `${FILE_STORE_NAME}.tmp-`;

export class FileStore extends CachedStore {
  readonly dir: string;
  readonly path: string;
  private tempCounter = 0;
  readonly logPath: string;
  /** Bytes in the base file and the log as they are on disk now. */
  private baseBytes = 0;
  private logBytes = 0;
  /** Bytes written by this store's setMany calls (base rewrites included): the bench reads it. */
  bytesWritten = 0;

  constructor(dir: string) {
    super();
    this.dir = dir;
    this.path = join(dir, FILE_STORE_NAME);
    this.logPath = join(dir, FILE_STORE_LOG);
  }

  protected readAll(): Promise<Map<string, string>> {
    return this.readFromDisk();
  }

  protected async persist(changes: Record<string, string | undefined>, current: ReadonlyMap<string, string>): Promise<void> {
    const line = encodeLogLine(changes);
    const lineBytes = Buffer.byteLength(line);
    // No base yet, or a log bigger than the base: write the whole store as the new base.
    if (this.baseBytes === 0 || this.logBytes + lineBytes > Math.max(MIN_COMPACT_BYTES, this.baseBytes)) await this.writeBase(applyChanges(new Map(current), changes));
    else await this.appendLog(line, lineBytes);
  }

  private async readFromDisk(): Promise<Map<string, string>> {
    await this.ensureDir();
    await this.removeStaleTemps();
    const map = await this.readBase();
    const text = await readIfExists(this.logPath);
    if (text === undefined) return map;
    const log = decodeLog(text);
    for (const changes of log.records) {
      for (const [k, v] of Object.entries(changes)) {
        if (v === null) map.delete(k);
        else if (typeof v === "string") map.set(k, v);
        else throw new StoreFormatError(`log entry ${JSON.stringify(k)} is not a string`, this.logPath, FILE_STORE_VERSION, { key: k });
      }
    }
    // A torn last line was never acknowledged: cut it off, so the next line starts clean.
    if (log.torn) await truncate(this.logPath, log.goodBytes);
    this.logBytes = log.goodBytes;
    return map;
  }

  private async readBase(): Promise<Map<string, string>> {
    const text = await readIfExists(this.path);
    if (text === undefined) return new Map();
    this.baseBytes = Buffer.byteLength(text);
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (cause) {
      throw new StoreFormatError("the store file is not valid JSON (corrupted?)", this.path, undefined, { cause });
    }
    const d = doc as { format?: unknown; version?: unknown; entries?: unknown } | null;
    if (typeof d !== "object" || d === null || d.format !== FILE_STORE_FORMAT) throw new StoreFormatError("not an mxdb store file", this.path);
    if (d.version !== FILE_STORE_VERSION) {
      throw new StoreFormatError(`store format version ${String(d.version)} is not supported (this mxdb reads version ${FILE_STORE_VERSION})`, this.path, d.version);
    }
    if (typeof d.entries !== "object" || d.entries === null || Array.isArray(d.entries)) throw new StoreFormatError("the store file has no entries object", this.path, d.version);
    const map = new Map<string, string>();
    for (const [k, v] of Object.entries(d.entries)) {
      if (typeof v !== "string") throw new StoreFormatError(`entry ${JSON.stringify(k)} is not a string`, this.path, d.version, { key: k });
      map.set(k, v);
    }
    return map;
  }

  /** Append one setMany's line and force it to disk (the file is created 0600 on first use). */
  private async appendLog(line: string, bytes: number): Promise<void> {
    const handle = await open(this.logPath, "a", 0o600);
    try {
      await handle.writeFile(line, "utf8");
      await handle.sync();
    } catch (e) {
      await handle.close();
      // Part of the line may be on disk: cut it off, or the next line would follow garbage.
      await truncate(this.logPath, this.logBytes).catch(() => undefined);
      throw e;
    }
    await handle.close();
    this.logBytes += bytes;
    this.bytesWritten += bytes;
  }

  /** Replace the base with `entries`, then empty the log (a crash between the two replays the log over the new base: the same entries). */
  private async writeBase(entries: Map<string, string>): Promise<void> {
    await this.writeFile(entries);
    if (this.logBytes > 0) {
      await truncate(this.logPath, 0);
      this.logBytes = 0;
    }
  }

  private async writeFile(entries: Map<string, string>): Promise<void> {
    await this.ensureDir();
    const doc = JSON.stringify({ format: FILE_STORE_FORMAT, version: FILE_STORE_VERSION, entries: Object.fromEntries(entries) });
    const temp = join(this.dir, `${TEMP_PREFIX}${process.pid}-${++this.tempCounter}`);
    // 1. Write the whole new file beside the old one and force it to disk.
    const handle = await open(temp, "wx", 0o600);
    try {
      await handle.writeFile(doc, "utf8");
      await handle.sync();
    } catch (e) {
      await handle.close();
      await unlink(temp).catch(() => undefined);
      throw e;
    }
    await handle.close();
    // 2. Rename over the old file: atomic on POSIX file systems.
    try {
      await rename(temp, this.path);
    } catch (e) {
      await unlink(temp).catch(() => undefined);
      throw e;
    }
    // 3. Make the rename itself durable.
    await syncDir(this.dir);
    this.baseBytes = Buffer.byteLength(doc);
    this.bytesWritten += this.baseBytes;
  }

  private dirReady = false;
  private async ensureDir(): Promise<void> {
    if (this.dirReady) return;
    const created = await mkdir(this.dir, { recursive: true, mode: 0o700 });
    if (!created && !(await stat(this.dir)).isDirectory()) throw new StoreFormatError("the store path is not a directory", this.dir);
    this.dirReady = true;
  }

  /** A temporary file left by a crash before its rename is garbage: the real file is still the old, valid one. */
  private async removeStaleTemps(): Promise<void> {
    for (const name of await readdir(this.dir)) {
      if (name.startsWith(TEMP_PREFIX)) await unlink(join(this.dir, name)).catch(() => undefined);
    }
  }
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
}

async function syncDir(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, "r");
    await handle.sync();
  } catch {
    // Some platforms cannot fsync a directory; the rename is still atomic there.
  } finally {
    await handle?.close();
  }
}
