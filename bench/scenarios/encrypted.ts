/**
 * Scenario 6: encrypted against unencrypted put and get (sequential puts, each awaited; gets of a
 * present key). While the encryption layer is not wired in, a put into an encrypted room throws
 * EncryptionUnavailableError and the scenario reports "not measured" with the reason.
 */
import { EncryptionUnavailableError, Memory } from "../../src/index.js";
import type { BenchEnv } from "../lib/env.js";
import { msSince, roundSummary, summarize, type Summary } from "../lib/stats.js";

export type EncryptedResult =
  | { measured: false; note: string }
  | { measured: true; puts: number; gets: number; unencrypted: { putMs: Summary; getUs: Summary }; encrypted: { putMs: Summary; getUs: Summary } };

async function measure(db: Memory, puts: number, gets: number): Promise<{ putMs: Summary; getUs: Summary }> {
  const putMs: number[] = [];
  for (let i = 0; i < puts; i++) {
    const t = process.hrtime.bigint();
    await db.put(`k${i % 10}`, { i, text: "a value of modest size" });
    putMs.push(msSince(t));
  }
  await db.flush();
  const getUs: number[] = [];
  for (let i = 0; i < gets; i++) {
    const t = process.hrtime.bigint();
    await db.get(`k${i % 10}`);
    getUs.push(msSince(t) * 1e3);
  }
  return { putMs: roundSummary(summarize(putMs)), getUs: roundSummary(summarize(getUs)) };
}

export async function benchEncrypted(env: BenchEnv): Promise<EncryptedResult> {
  const puts = env.size === "full" ? 100 : 20;
  const gets = env.size === "full" ? 10_000 : 1_000;
  const user = await env.user("enc");
  const plainRoom = await env.room(user);
  const encRoom = await env.room(user, [], { encrypted: true });
  const enc = await Memory.open({ homeserver: env.hs.baseUrl, accessToken: user.accessToken, rooms: { main: encRoom } });
  try {
    try {
      await enc.put("probe", { probe: true });
    } catch (e) {
      if (e instanceof EncryptionUnavailableError) {
        const note = `not measured: encryption not available (${e.message})`;
        env.log(`encrypted: ${note}`);
        return { measured: false, note };
      }
      throw e;
    }
    env.log(`encrypted: ${puts} puts and ${gets} gets, encrypted and unencrypted`);
    const encrypted = await measure(enc, puts, gets);
    const plain = await Memory.open({ homeserver: env.hs.baseUrl, accessToken: user.accessToken, rooms: { main: plainRoom } });
    try {
      const unencrypted = await measure(plain, puts, gets);
      env.log(`encrypted: put median ${encrypted.putMs.median} ms vs ${unencrypted.putMs.median} ms; get median ${encrypted.getUs.median} µs vs ${unencrypted.getUs.median} µs`);
      return { measured: true, puts, gets, unencrypted, encrypted };
    } finally {
      await plain.close();
    }
  } finally {
    await enc.close();
  }
}
