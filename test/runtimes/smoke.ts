/**
 * The runtime matrix's scenario (docs/RUNTIMES.md), the same code in every runtime: it uses only
 * what the portable core offers (no store path, no inRoom) and reports each step's outcome rather
 * than throwing, so the test shows which step failed where.
 *
 *   open; put/get/delete with singleStateKey true and false; watch sees another writer;
 *   an encrypted put read back by another user's device; close.
 */
import { Memory, type MemoryOptions } from "../../src/index.js";
import type { OlmWasm } from "../../src/crypto/olm/backend.js";
import type { Store } from "../../src/store/store.js";

export interface SmokeUser {
  userId: string;
  accessToken: string;
  deviceId: string;
}

export interface SmokeConfig {
  homeserver: string;
  /** Writes with singleStateKey true; watches; writes the encrypted value. Also writes with singleStateKey false, encryption off. */
  a: SmokeUser;
  /** The other writer A watches; reads the encrypted value (singleStateKey true, as the writer). */
  b: SmokeUser;
  plainRoom: string;
  encryptedRoom: string;
  /** Unique per run, so runtimes sharing a room do not read each other's keys. */
  prefix: string;
  /** Does this runtime have AsyncLocalStorage (inRoom works), or must inRoom refuse? */
  expectRoomScope: boolean;
}

export interface StepResult {
  step: string;
  ok: boolean;
  error?: string;
  /** The error's class name, for steps a runtime is expected to fail in a typed way. */
  errorName?: string;
}

export const STEPS = ["open", "single state key", "state key per key", "watch", "encrypted", "inRoom", "close"] as const;

/** Key order does not matter to a JSON value: compare canonical forms. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (x && typeof x === "object" && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([p], [q]) => (p < q ? -1 : 1))) : x));
}

function expectEqual(actual: unknown, expected: unknown, what: string): void {
  if (canonical(actual) !== canonical(expected)) throw new Error(`${what}: got ${canonical(actual)}, expected ${canonical(expected)}`);
}

async function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** `storeFor`: each memory's Store (a: the encrypted writer, b: the reader, c: A's plain second memory); MemoryStore when absent. */
export async function smoke(config: SmokeConfig, extra: { olmWasm?: OlmWasm; storeFor?: (who: "a" | "b" | "c") => Store } = {}): Promise<StepResult[]> {
  const results: StepResult[] = [];
  const memories: Memory[] = [];
  const run = async (step: string, fn: () => Promise<void>): Promise<boolean> => {
    try {
      await within(60_000, step, fn());
      results.push({ step, ok: true });
      return true;
    } catch (e) {
      results.push({ step, ok: false, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e), errorName: e instanceof Error ? e.name : typeof e });
      return false;
    }
  };
  const base = (u: SmokeUser, singleStateKey: boolean, encryption = true, who: "a" | "b" | "c" = "a"): MemoryOptions => ({
    encryption,
    ...(extra.storeFor ? { store: extra.storeFor(who) } : {}),
    homeserver: config.homeserver,
    accessToken: u.accessToken,
    deviceId: u.deviceId,
    rooms: { plain: config.plainRoom, secret: config.encryptedRoom },
    defaultRoom: "plain",
    singleStateKey,
    syncTimeoutMs: 2_000,
    timeoutMs: 50_000,
    ...(extra.olmWasm === undefined ? {} : { olmWasm: extra.olmWasm }),
  });
  const p = config.prefix;
  let a: Memory | undefined;
  let b: Memory | undefined;
  let c: Memory | undefined;
  const opened = await run("open", async () => {
    a = await Memory.open(base(config.a, true));
    memories.push(a);
    b = await Memory.open(base(config.b, true, true, "b"));
    memories.push(b);
    // A second memory of A's device: without encryption, so it makes no second crypto account.
    c = await Memory.open(base(config.a, false, false, "c"));
    memories.push(c);
  });
  if (opened && a && b && c) {
    const ma = a;
    const mb = b;
    for (const [step, m] of [["single state key", ma], ["state key per key", c]] as const) {
      await run(step, async () => {
        const value = { text: "grüße ✓", n: 42, list: [1, -25, null], nested: { ok: true } };
        await m.put(`${p}-k`, value);
        expectEqual(await m.get(`${p}-k`), value, "get after put");
        expectEqual(await m.delete(`${p}-k`), value, "delete's return");
        expectEqual(await m.get(`${p}-k`), undefined, "get after delete");
        await m.flush();
      });
    }
    await run("watch", async () => {
      const changes = ma.watch({ room: "plain" });
      const value = { from: "b", at: p };
      const seen = (async () => {
        for await (const c of changes) if (c.key === `${p}-w`) return c;
        throw new Error("watch ended");
      })();
      await mb.put(`${p}-w`, value);
      const c = await seen;
      await changes.return();
      expectEqual(c.value, value, "watched value");
      if (c.sender !== config.b.userId) throw new Error(`watched sender ${c.sender}, expected ${config.b.userId}`);
    });
    await run("encrypted", async () => {
      const value = { secret: `s-${p}`, n: 7 };
      await ma.room("secret").put(`${p}-e`, value);
      await ma.flush();
      // B's device gets the room key over Olm with a later sync: ask until it can decrypt.
      const deadline = Date.now() + 40_000;
      let last: unknown;
      for (;;) {
        last = await mb.room("secret").get(`${p}-e`).catch((e: unknown) => e);
        if (!(last instanceof Error) && last !== undefined) break;
        if (Date.now() > deadline) throw last instanceof Error ? last : new Error("the encrypted value never arrived");
        await new Promise((r) => setTimeout(r, 250));
      }
      expectEqual(last, value, "decrypted value");
    });
    await run("inRoom", async () => {
      let ran = false;
      const outcome = await ma
        .inRoom("secret", async () => {
          ran = true;
          return ma.get(`${p}-e`);
        })
        .then((v) => ({ value: v }), (e: unknown) => ({ error: e }));
      if (config.expectRoomScope) {
        if ("error" in outcome) throw outcome.error;
        // Inside inRoom the current room is the encrypted one; outside it is the default again.
        expectEqual(outcome.value, { secret: `s-${p}`, n: 7 }, "get inside inRoom");
        expectEqual(await ma.get(`${p}-e`), undefined, "get outside inRoom");
      } else {
        const name = "error" in outcome && outcome.error instanceof Error ? outcome.error.name : "no error";
        if (name !== "RoomScopeUnavailableError" || ran) throw new Error(`inRoom without AsyncLocalStorage: ${name}, callback ran: ${ran}`);
      }
    });
  }
  await run("close", async () => {
    for (const m of memories) await m.close();
  });
  return results;
}
