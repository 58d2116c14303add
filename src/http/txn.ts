/**
 * Transaction IDs: "scoped to a single device" and reused by the client when it retries, so the
 * server returns the first answer instead of making a second event.
 * Spec: https://spec.matrix.org/v1.19/client-server-api/#transaction-identifiers
 *
 * A random per-process prefix keeps IDs unique across restarts of the same device; the counter keeps
 * them unique inside one process. The caller takes one ID per logical request and keeps it across
 * every retry of that request (HttpClient does so for its own retries; the write queue for its own).
 */

export class TxnIds {
  private counter = 0;
  private readonly prefix: string;
  constructor(prefix?: string) {
    this.prefix = prefix ?? `mxdb${Date.now().toString(36)}${randomHex(4)}`;
  }
  next(): string {
    this.counter += 1;
    return `${this.prefix}.${this.counter}`;
  }
}

/** `n` random bytes as hex, from WebCrypto (every runtime has it; src/http imports no other layer's helpers). */
function randomHex(n: number): string {
  return [...globalThis.crypto.getRandomValues(new Uint8Array(n))].map((b) => b.toString(16).padStart(2, "0")).join("");
}
