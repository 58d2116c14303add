/**
 * A FileStore directory as tests look at it from outside: everything on disk (the base file and
 * its log: a secret must be in neither), every entry, and edits made as a careless user or a crash
 * might make them (through FileStore, so they land in the format it reads).
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { FILE_STORE_LOG, FILE_STORE_NAME, FileStore } from "../../src/store/file-store.js";

/** The bytes on disk, base file and log together, as text. */
export function storeText(dir: string): string {
  return [FILE_STORE_NAME, FILE_STORE_LOG].map((f) => join(dir, f)).filter(existsSync).map((p) => readFileSync(p, "utf8")).join("\n");
}

export async function storeEntries(dir: string): Promise<Record<string, string>> {
  const s = new FileStore(dir);
  const out: Record<string, string> = {};
  for (const k of await s.keys()) out[k] = (await s.get(k))!;
  await s.close();
  return out;
}

/** Change entries (undefined deletes) of a store no memory has open. */
export async function editStore(dir: string, changes: Record<string, string | undefined>): Promise<void> {
  const s = new FileStore(dir);
  await s.setMany(changes);
  await s.close();
}
