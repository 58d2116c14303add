/**
 * A child that writes to a FileStore until it is killed (test/unit/store-crash.test.ts). It resumes
 * from the store's `counter`: op i sets `k<i % 40>` to a value naming i (some long, so the log
 * outgrows the base and compaction runs too) and `counter` to i, and prints "ack i" once setMany has
 * resolved.
 */
import { FileStore } from "../../src/store/file-store.js";

export function opFor(i: number): Record<string, string> {
  const pad = i % 7 === 0 ? "x".repeat(40_000) : "";
  return { [`k${i % 40}`]: `v${i}${pad}`, counter: String(i) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const store = new FileStore(process.argv[2]!);
  const counter = await store.get("counter");
  for (let i = counter === undefined ? 0 : Number(counter) + 1; ; i++) {
    await store.setMany(opFor(i));
    process.stdout.write(`ack ${i}\n`);
  }
}
