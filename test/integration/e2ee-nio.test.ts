/**
 * Interoperability with an independent client: matrix-nio 0.26.0 + vodozemac (test/interop/nio_client.py)
 * joins the encrypted room with its own device. It decrypts what mxdb wrote; mxdb decrypts what it
 * wrote in opsdroid's format; a value nio forges with another room's ID inside is refused.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Memory, UndecryptableValueError } from "../../src/index.js";
import { RoomIdMismatchError } from "../../src/crypto/index.js";
import { memoryTraceSink, type TraceRecord } from "../../src/http/trace.js";
import { testHomeserver, newUser, type TestUser } from "../helpers/homeserver.js";
import { startNio, type NioPeer } from "../helpers/nio.js";
import { sharedRoom } from "../helpers/rooms.js";
import { eventually } from "../helpers/wait.js";

let baseUrl: string;
let alice: TestUser;
let nina: TestUser;
let roomId: string;
let otherRoomId: string;
let peer: NioPeer | undefined;
let db: Memory | undefined;
const dirs: string[] = [];

interface NioGet {
  found: boolean;
  encrypted?: boolean;
  decrypted?: boolean;
  value?: unknown;
  type?: string;
}

/** Devices each `m.room.encrypted` to-device request in the trace was addressed to, as "user/device". */
function toDeviceRecipients(records: TraceRecord[]): string[] {
  const out: string[] = [];
  for (const r of records) {
    if (r.method !== "PUT" || !r.url.includes("/sendToDevice/m.room.encrypted/") || r.requestBody === null) continue;
    const { messages } = JSON.parse(r.requestBody) as { messages: Record<string, Record<string, unknown>> };
    for (const [user, devices] of Object.entries(messages)) for (const device of Object.keys(devices)) out.push(`${user}/${device}`);
  }
  return out;
}

before(async () => {
  baseUrl = (await testHomeserver()).info.baseUrl;
  [alice, nina] = await Promise.all([newUser("alice"), newUser("nina")]);
  [roomId, otherRoomId] = await Promise.all([sharedRoom(alice, [nina], { encrypted: true }), sharedRoom(alice, [nina], { encrypted: true })]);
});
after(async () => {
  await db?.close();
  await peer?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test("matrix-nio and mxdb read each other's encrypted values in opsdroid's format", { timeout: 600_000 }, async () => {
  const store = mkdtempSync(join(tmpdir(), "mxdb-nio-"));
  dirs.push(store);
  peer = await startNio({ homeserver: baseUrl, user_id: nina.userId, password: nina.password, room_id: roomId, store_path: store });
  const nio = peer;
  assert.equal(nio.info.versions["matrix-nio"], "0.26.0");

  const trace = memoryTraceSink();
  const errors: unknown[] = [];
  db = await Memory.open({ homeserver: baseUrl, accessToken: alice.accessToken, rooms: { main: roomId }, syncTimeoutMs: 2000, trace: trace, onError: (e) => errors.push(e) });
  const a = db;

  // mxdb -> nio
  await a.put("from-mxdb", { secret: "mxdb wrote this", list: [1, 2, 3] });
  const reached = toDeviceRecipients(trace.records);
  assert.ok(reached.includes(`${nina.userId}/${nio.info.device_id}`), `room key sent to ${reached.join(", ")}`);
  process.stderr.write(`# room key reached ${reached.length} device(s): ${reached.join(", ")}\n`);
  const got = await eventually(
    async () => {
      await nio.request("sync", { timeout: 500 });
      return nio.request<NioGet>("get", { key: "from-mxdb" });
    },
    (r) => r.decrypted === true,
    30_000,
  );
  assert.equal(got.type, "dev.opsdroid.database");
  assert.deepEqual(got.value, { secret: "mxdb wrote this", list: [1, 2, 3] });

  // nio -> mxdb: nio shares its own room key with mxdb's device, sends the event, then the state.
  await nio.request("sync", { timeout: 0 });
  const put = await nio.request<{ event_id: string; shared_with: [string, string][] }>("put", { key: "from-nio", value: { secret: "nio wrote this" } });
  const aliceDevice = `${alice.userId}/${a.deviceId}`;
  assert.ok(
    put.shared_with.some(([u, d]) => `${u}/${d}` === aliceDevice),
    `nio shared with ${JSON.stringify(put.shared_with)}`,
  );
  process.stderr.write(`# nio's room key reached ${put.shared_with.length} device(s)\n`);
  const back = await eventually(() => a.get("from-nio").catch((e: unknown) => e), (v) => !(v instanceof Error) && v !== undefined, 30_000, 100);
  assert.deepEqual(back, { secret: "nio wrote this" });
  // Both values live side by side in the one state event, each a reference.
  assert.deepEqual(await a.keys(), ["from-mxdb", "from-nio"]);

  // A Megolm message that names another room inside its plaintext is refused, never returned.
  await nio.request("forge", { key: "forged", value: "moved here", claimed_room_id: otherRoomId });
  const refused = await eventually(() => a.get("forged").catch((e: unknown) => e), (v) => v !== undefined, 20_000, 100);
  assert.ok(refused instanceof UndecryptableValueError, String(refused));
  assert.ok(refused.cause instanceof RoomIdMismatchError, String(refused.cause));
  assert.match(refused.message, /forged/);
});
