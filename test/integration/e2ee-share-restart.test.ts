/**
 * Delivery bookkeeping on the real Synapse (src/crypto/megolm/shares.ts): the to-device PUT carrying a
 * room key fails, the writer's process ends (Memory closed), and after it reopens every reader can
 * decrypt, because the unsent share was kept in the crypto store and is sent again.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { Memory, UndecryptableValueError, type MemoryOptions, type Transport } from "../../src/index.js";
import { undiciTransport } from "../../src/http/undici-transport.js";
import { testHomeserver, newUser, type TestUser } from "../helpers/homeserver.js";
import { memories } from "../helpers/memories.js";
import { sharedRoom } from "../helpers/rooms.js";
import { eventually } from "../helpers/wait.js";

let baseUrl: string;
let alice: TestUser;
let bob: TestUser;
let carol: TestUser;
const mem = memories("mxdb-share-restart-");
const tempDir = () => mem.tempDir();
const close = (m: Memory) => mem.close(m);

function memory(roomId: string, options: Partial<MemoryOptions>): Promise<Memory> {
  return mem.open({ homeserver: baseUrl, rooms: { main: roomId }, ...options } as MemoryOptions);
}

/** The real transport, but every m.room.encrypted to-device PUT is refused while `failing` is set. */
function faultyTransport() {
  const real = undiciTransport();
  const state = { failing: true, refused: 0 };
  const transport: Transport = async (req) => {
    if (state.failing && req.method === "PUT" && req.url.includes("/sendToDevice/m.room.encrypted/")) {
      state.refused++;
      return { status: 403, headers: { "content-type": "application/json" }, body: new TextEncoder().encode(JSON.stringify({ errcode: "M_FORBIDDEN", error: "injected fault" })) };
    }
    return real(req);
  };
  return { transport: Object.assign(transport, { close: () => real.close() }), state };
}

before(async () => {
  baseUrl = (await testHomeserver()).info.baseUrl;
  [alice, bob, carol] = await Promise.all([newUser("alice"), newUser("bob"), newUser("carol")]);
});
after(async () => {
  await mem.cleanup();
});

test("a room-key share whose PUT failed is sent after a restart: every reader decrypts", { timeout: 300_000 }, async () => {
  const roomId = await sharedRoom(alice, [bob, carol], { encrypted: true });
  const [store, bobStore, carolStore] = [tempDir(), tempDir(), tempDir()];
  // The readers' devices exist (and have keys) before the writer shares.
  const b = await memory(roomId, { accessToken: bob.accessToken, store: bobStore! });
  const c = await memory(roomId, { accessToken: carol.accessToken, store: carolStore! });

  const { transport, state } = faultyTransport();
  const a = await memory(roomId, { accessToken: alice.accessToken, store: store!, transport });
  await a.put("secret", { v: 1 });
  await a.flush();
  assert.notEqual(state.refused, 0, "the share was refused at least once");
  // The value's reference is there, its key is not: the readers cannot read it yet.
  const before = await eventually(() => b.get("secret").catch((e: unknown) => e), (v) => v instanceof UndecryptableValueError, 30_000, 200);
  assert.ok(before instanceof UndecryptableValueError);
  await close(a);

  // A new process with the same store, and a transport that works.
  const a2 = await memory(roomId, { accessToken: alice.accessToken, store: store! });
  for (const reader of [b, c]) {
    const got = await eventually(() => reader.get("secret").catch((e: unknown) => e), (v) => !(v instanceof Error), 60_000, 200);
    assert.deepEqual(got, { v: 1 });
  }
  assert.deepEqual(await a2.get("secret"), { v: 1 });
  await close(a2);
  await close(b);
  await close(c);
});
