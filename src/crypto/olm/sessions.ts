/**
 * Olm sessions per remote device (keyed by its curve25519 identity key), persisted as pickles.
 * https://spec.matrix.org/v1.19/client-server-api/#mmolmv1curve25519-aes-sha2
 * "use the session from which it last received and successfully decrypted a message ... at least 4"
 * Sessions are unpickled for each use and freed straight after, so no Olm object outlives a call.
 */
import type { CryptoBackend, OlmSessionObj } from "../backend.js";
import type { SealedStore } from "../store.js";

export interface OlmSessionRecord {
  sessionId: string;
  pickle: string;
  createdAt: number;
  /** Last successful decrypt, or creation time if none yet. */
  lastReceivedAt: number;
}

/** Keep more than the spec's minimum of 4, dropping the least recently used. */
export const MAX_SESSIONS_PER_DEVICE = 6;

const name = (curve: string) => `olm/${curve}`;

export class OlmSessions {
  /** curve25519 keys we hold a session with, so "missing sessions" is answerable synchronously. */
  private readonly known = new Set<string>();

  constructor(
    private readonly store: SealedStore,
    private readonly backend: CryptoBackend,
    private readonly pickleKey: Uint8Array,
  ) {}

  async load(): Promise<void> {
    for (const n of await this.store.names("olm/")) this.known.add(n.slice("olm/".length));
  }

  hasSession(curve: string): boolean {
    return this.known.has(curve);
  }

  async list(curve: string): Promise<OlmSessionRecord[]> {
    return (await this.store.get<OlmSessionRecord[]>(name(curve))) ?? [];
  }

  async has(curve: string): Promise<boolean> {
    return this.known.has(curve) || (await this.list(curve)).length > 0;
  }

  /** Insert or update the session's pickle; evict LRU beyond the cap. */
  async save(curve: string, session: OlmSessionObj, now: number, received: boolean): Promise<void> {
    const list = await this.list(curve);
    const sessionId = session.sessionId();
    const prev = list.find((r) => r.sessionId === sessionId);
    const rec: OlmSessionRecord = {
      sessionId,
      pickle: session.pickle(this.pickleKey),
      createdAt: prev?.createdAt ?? now,
      lastReceivedAt: received ? now : (prev?.lastReceivedAt ?? now),
    };
    const next = [rec, ...list.filter((r) => r.sessionId !== sessionId)]
      .sort((a, b) => b.lastReceivedAt - a.lastReceivedAt)
      .slice(0, MAX_SESSIONS_PER_DEVICE);
    this.store.set(name(curve), next);
    this.known.add(curve);
  }

  /** Run fn with the preferred session (most recent receive), persisting it afterwards. */
  async withPreferred<R>(curve: string, now: number, fn: (s: OlmSessionObj) => R): Promise<R | undefined> {
    const best = (await this.list(curve))[0];
    if (!best) return undefined;
    const s = this.backend.unpickleOlmSession(this.pickleKey, best.pickle);
    try {
      const r = fn(s);
      await this.save(curve, s, now, false);
      return r;
    } finally {
      s.free();
    }
  }

  unpickle(rec: OlmSessionRecord): OlmSessionObj {
    return this.backend.unpickleOlmSession(this.pickleKey, rec.pickle);
  }
}
