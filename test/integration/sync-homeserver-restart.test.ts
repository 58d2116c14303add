/**
 * Synapse stopped during a long-poll: the loop backs off (no busy loop), does not end, and after
 * Synapse restarts it resumes with a correct picture. Uses a dedicated homeserver (the shared one
 * must not be stopped).
 *
 * mxdb-test: msc4222-too
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { getAllState } from "../../src/http/endpoints/state/get-all-state.js";
import { putState } from "../../src/http/endpoints/state/put-state.js";
import type { HttpClient } from "../../src/http/client.js";
import { isMxdbError } from "../../src/http/errors.js";
import { MemoryStore } from "../../src/store/store.js";
import { SyncLoop } from "../../src/sync/sync-loop.js";
import { Homeserver, TEST_RATE_LIMITS, testDatabase, testMsc4222, testStateAfter } from "../helpers/homeserver.js";
import { createRoom } from "../../src/http/endpoints/rooms/create-room.js";
import { join } from "../../src/http/endpoints/rooms/join.js";

const DB = "dev.opsdroid.database";
let hs: Homeserver;
const clients: HttpClient[] = [];

before(async () => {
  // The shared run's stock settings; MSC4222 when this file runs on the second sync path.
  hs = await Homeserver.start({ rateLimits: TEST_RATE_LIMITS, msc4222: testMsc4222(), database: testDatabase() });
});
after(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await hs?.stop();
});

test("Synapse stopped during a long-poll: the loop backs off, survives, and resumes with a correct picture", { timeout: 180_000 }, async () => {
  const [a, b] = await Promise.all([hs.registerUser("restart-a"), hs.registerUser("restart-b")]);
  const A = hs.client(a.accessToken);
  const B = hs.client(b.accessToken);
  clients.push(A, B);
  const { room_id: roomId } = await A.send(createRoom, { preset: "private_chat", invite: [b.userId], power_level_content_override: { users: { [b.userId]: 50 } } });
  await B.send(join, { roomIdOrAlias: roomId });

  const errors: unknown[] = [];
  let sawError!: () => void;
  const firstError = new Promise<void>((r) => (sawError = r));
  const loop = new SyncLoop({ http: B, userId: b.userId, store: new MemoryStore(), timeoutMs: 30_000, stateAfter: testStateAfter(), onError: (e) => (errors.push(e), sawError()) });
  loop.start();
  await loop.whenSynced();
  const requestsBeforeOutage = loop.requestCount;

  // The loop is now holding a 30 s long-poll; kill the server under it.
  await hs.stopProcess();
  await firstError;
  // Give the back-off some real time against a dead server.
  await new Promise((r) => setTimeout(r, 3000));
  const requestsDuringOutage = loop.requestCount - requestsBeforeOutage;
  await hs.startProcess();

  const written = await A.send(putState, { roomId, eventType: DB, stateKey: "after-restart", content: { back: true } });
  while (loop.room(roomId)?.get(DB, "after-restart")?.event_id !== written.event_id) await loop.nextSync();

  assert.ok(errors.length >= 1 && errors.every((e) => isMxdbError(e)), "typed transport/HTTP errors were reported");
  // Back-off: 3 s of outage costs a handful of requests (0.5, 1, 2 s ...), not a busy loop.
  assert.ok(requestsDuringOutage <= 6, `requests during the outage: ${requestsDuringOutage}`);
  const server: Record<string, string> = {};
  for (const e of await B.send(getAllState, { roomId })) server[JSON.stringify([e.type, e.state_key])] = e.event_id;
  const ours: Record<string, string> = {};
  for (const e of loop.room(roomId)!.events()) ours[JSON.stringify([e.type, e.state_key])] = e.event_id;
  assert.deepEqual(ours, server);
  await loop.stop();
});
