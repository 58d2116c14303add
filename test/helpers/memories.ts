/**
 * The Memories and store directories an integration file opens, closed and removed in its after():
 * `const mem = memories("mxdb-e2ee-"); after(() => mem.cleanup());`
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Memory, type MemoryOptions } from "../../src/index.js";

export interface Memories {
  /** A fresh store directory, removed by cleanup(). */
  tempDir(): string;
  /** Memory.open with a 2 s sync timeout, tracked until closed. */
  open(options: MemoryOptions): Promise<Memory>;
  close(m: Memory): Promise<void>;
  /** Track directories made elsewhere. */
  track(...dirs: string[]): void;
  cleanup(): Promise<void>;
}

export function memories(prefix: string): Memories {
  const dirs: string[] = [];
  const open = new Set<Memory>();
  return {
    tempDir() {
      const d = mkdtempSync(join(tmpdir(), prefix));
      dirs.push(d);
      return d;
    },
    async open(options) {
      const m = await Memory.open({ syncTimeoutMs: 2000, ...options });
      open.add(m);
      return m;
    },
    async close(m) {
      open.delete(m);
      await m.close();
    },
    track(...more) {
      dirs.push(...more);
    },
    async cleanup() {
      await Promise.all([...open].map((m) => m.close()));
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    },
  };
}
