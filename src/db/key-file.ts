/**
 * The store key file (src/db/store-key.ts): 32 random bytes in base64, mode 0600. Node, Bun and Deno
 * only; the portable core loads this module when a key file is asked for.
 */
import { fromBase64, randomBytes, toBase64 } from "../crypto/bytes.js";
import { chmod, mkdir, open, readFile, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { ConfigError } from "./errors.js";

/** Read the key file, or create it (exclusively, mode 0600) with 32 random bytes. */
export async function readOrCreateKeyFile(path: string): Promise<Uint8Array> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  try {
    const handle = await open(path, "wx", 0o600);
    try {
      const key = randomBytes(32);
      await handle.writeFile(toBase64(key) + "\n");
      await handle.sync();
      return key;
    } finally {
      await handle.close();
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
  }
  const mode = (await stat(path)).mode & 0o777;
  // Group or world could read it: tighten rather than refuse (the key itself is unchanged).
  if (mode & 0o077) await chmod(path, 0o600);
  let key: Uint8Array;
  try {
    key = fromBase64((await readFile(path, "utf8")).trim());
  } catch {
    key = new Uint8Array(0);
  }
  if (key.length !== 32) throw new ConfigError(`the store key file ${path} must hold 32 bytes in base64, found ${key.length} bytes`);
  return new Uint8Array(key);
}
