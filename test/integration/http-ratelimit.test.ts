/**
 * A burst of writes under a real Synapse rate limit is waited out by HttpClient's 429 handling,
 * with nothing lost. Synapse's default rc_message is 0.2/s with a burst of 10; the per-user admin
 * override takes whole numbers only, so this imposes 1/s with a burst of 10 on one user: the same
 * 429 path (Retry-After + retry_after_ms), in a few seconds instead of twenty.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { HttpClient } from "../../src/http/client.js";
import * as api from "../../src/http/index.js";
import { newUser, testHomeserver } from "../helpers/homeserver.js";

const clients: HttpClient[] = [];
after(async () => {
  await Promise.all(clients.map((c) => c.close()));
});

test("14 distinct sends over a burst-10 limit all succeed after 429 waits, and all 14 events exist", { timeout: 180_000 }, async () => {
  const hs = await testHomeserver();
  const user = await newUser("burst");
  clients.push(user.client);
  const { room_id: roomId } = await user.client.send(api.createRoom, { preset: "private_chat" });

  const admin = await hs.adminUser();
  const set = await hs.overrideRateLimit(admin.accessToken, user.userId, { messagesPerSecond: 1, burstCount: 10 });
  assert.deepEqual(set, { messagesPerSecond: 1, burstCount: 10 });

  const waits: number[] = [];
  const client = new HttpClient({ baseUrl: hs.baseUrl, accessToken: user.accessToken, onRateLimited: (ms) => waits.push(ms) });
  clients.push(client);
  const sends = Array.from({ length: 14 }, (_, n) => client.send(api.send, { roomId, eventType: "dev.mxdb.burst", txnId: client.txnId(), content: { n } }));
  const ids = (await Promise.all(sends)).map((r) => r.event_id);
  assert.equal(new Set(ids).size, 14);
  assert.ok(waits.length > 0, "Synapse answered 429 at least once");
  assert.ok(waits.every((ms) => ms > 0));

  const page = await client.send(api.messages, { roomId, dir: "f", limit: 100, filter: { types: ["dev.mxdb.burst"] } });
  assert.deepEqual(page.chunk.map((e) => e.content.n).sort((a, b) => Number(a) - Number(b)), Array.from({ length: 14 }, (_, n) => n));
  assert.deepEqual(new Set(page.chunk.map((e) => e.event_id)), new Set(ids));

  // Lift it again: the shared homeserver must not keep a limited user around.
  await hs.overrideRateLimit(admin.accessToken, user.userId, { messagesPerSecond: 0, burstCount: 0 });
});
