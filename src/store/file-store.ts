/**
 * A Store in one JSON file inside a directory of its own:
 *   { "format": "mxdb-store", "version": 1, "entries": { key: value } }
 * Every write replaces the file atomically (write a temporary file, fsync it, rename it over the
 * old one, fsync the directory), so a crash leaves either the old file or the new one, never a mix.
 * File mode 0600, directory 0700: the file will hold crypto keys.
 * Writes are serialised; reads are answered from memory after the first load.
 */
import { mkdir, open, readdir, readFile, rename, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { StoreFormatError, type Store } from "./store.js";

export const FILE_STORE_NAME = "mxdb-store.json";
export const FILE_STORE_FORMAT = "mxdb-store";
export const FILE_STORE_VERSION = 1;
const TEMP_PREFIX = `${FILE_STORE_NAME}.tmp-`;

export class FileStore implements Store {
  readonly dir: string;
  readonly path: string;
  private entries: Map<string, string> | undefined;
  private loading: Promise<Map<string, string>> | undefined;
  /** The tail of the write chain: each write starts when the previous one has finished. */
  private queue: Promise<unknown> = Promise.resolve();
  private tempCounter = 0;

  constructor(dir: string) {
    this.dir = dir;
    this.path = join(dir, FILE_STORE_NAME);
  }

  async get(key: string): Promise<string | undefined> {
    return (await this.load()).get(key);
  }

  async set(key: string, value: string): Promise<void> {
    await this.setMany({ [key]: value });
  }

  async delete(key: string): Promise<void> {
    await this.setMany({ [key]: undefined });
  }

  async keys(prefix = ""): Promise<string[]> {
    return [...(await this.load()).keys()].filter((k) => k.startsWith(prefix)).sort();
  }

  async setMany(changes: Record<string, string | undefined>): Promise<void> {
    const run = this.queue.then(async () => {
      const next = new Map(await this.load());
      for (const [k, v] of Object.entries(changes)) {
        if (v === undefined) next.delete(k);
        else if (typeof v === "string") next.set(k, v);
        else throw new TypeError(`store values are strings; ${k} is ${typeof v}`);
      }
      await this.writeFile(next);
      // Only a file that reached the disk becomes what we answer reads from.
      this.entries = next;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    await this.queue;
  }

  private load(): Promise<Map<string, string>> {
    if (this.entries) return Promise.resolve(this.entries);
    this.loading ??= this.readFromDisk().then(
      (m) => (this.entries = m),
      (e) => {
        this.loading = undefined;
        throw e;
      },
    );
    return this.loading;
  }

  private async readFromDisk(): Promise<Map<string, string>> {
    await this.ensureDir();
    await this.removeStaleTemps();
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return new Map();
      throw e;
    }
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
