/**
 * Large values without a homeserver: the placement rule (which values leave a state event for the
 * media repository), encrypted attachments against their hash, and the server's upload limit
 * refused before any upload.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Memory, ValueTooLargeError } from "../../src/index.js";
import { decryptAttachment, encryptAttachment, AttachmentError } from "../../src/crypto/attachments.js";
import { valuesToMove } from "../../src/db/media-values.js";
import type { Transport } from "../../src/http/types.js";
import { fakeRoomServer, ROOM } from "../helpers/fake-room-server.js";
import { fakeClock } from "../helpers/msw-transport.js";

// JSON.stringify's length, member by member (as ./content-size.ts measures canonical JSON).
const size = {
  size: (c: Record<string, unknown>, changes: ReadonlyMap<string, unknown> = new Map()) => JSON.stringify({ ...c, ...Object.fromEntries(changes) }).length,
  member: (k: string, v: unknown) => JSON.stringify({ [k]: v }).length - 2,
};
const none = new Map<string, unknown>();

test("placement: nothing moves under the budget; over it, the largest values move first until it fits", { timeout: 10_000 }, () => {
  const ref = { mxdb_media: "r" };
  assert.deepEqual(valuesToMove({ a: "x".repeat(10), b: "y".repeat(20) }, none, size, ref, 100), []);
  assert.deepEqual(valuesToMove({ a: "x".repeat(60), b: "y".repeat(50), c: "z" }, none, size, ref, 100), ["a"]);
  assert.deepEqual(valuesToMove({ a: "x".repeat(60), b: "y".repeat(50), c: "z".repeat(40) }, none, size, ref, 100), ["a", "b"]);
  // References already in the event do not move again; when nothing else can move, it cannot fit.
  assert.deepEqual(valuesToMove({ a: { encrypted_val: "$e".repeat(80) }, b: "y" }, none, size, ref, 100), undefined);
});

test("encrypted attachments: round trip, a different key and IV each time, a changed byte refused by its hash", { timeout: 10_000 }, async () => {
  const plain = new TextEncoder().encode(JSON.stringify({ secret: "grüße".repeat(1000) }));
  const one = await encryptAttachment(plain);
  const two = await encryptAttachment(plain);
  assert.notEqual(one.info.key.k, two.info.key.k);
  assert.notEqual(one.info.iv, two.info.iv);
  assert.equal(one.ciphertext.length, plain.length);
  assert.ok(!Buffer.from(one.ciphertext).includes(Buffer.from("grüße")));
  assert.deepEqual(await decryptAttachment(one.ciphertext, one.info), plain);
  // The IV's low 8 bytes are the zero counter, as the spec has it.
  assert.deepEqual([...Buffer.from(one.info.iv, "base64").subarray(8)], [0, 0, 0, 0, 0, 0, 0, 0]);
  const bad = one.ciphertext.slice();
  bad[10] = bad[10]! ^ 1;
  await assert.rejects(decryptAttachment(bad, one.info), AttachmentError);
});

test("a value past the server's m.upload.size is refused with ValueTooLargeError before any upload or state write", { timeout: 30_000 }, async () => {
  const server = fakeRoomServer();
  const seen: string[] = [];
  const transport: Transport = async (req) => {
    seen.push(`${req.method} ${new URL(req.url).pathname}`);
    if (req.url.includes("/media/config")) return { status: 200, headers: { "content-type": "application/json" }, body: new TextEncoder().encode('{"m.upload.size": 100000}') };
    return server.transport(req);
  };
  const db = await Memory.open({ homeserver: "http://127.0.0.1:8008", accessToken: "t", rooms: { main: ROOM }, encryption: false, transport, clock: fakeClock(), timeoutMs: Infinity, syncDeadlineMarginMs: Infinity });
  await assert.rejects(db.put("huge", { blob: "x".repeat(200_000) }), (e: unknown) => e instanceof ValueTooLargeError && e.limit === 100_000 && e.key === "huge");
  assert.deepEqual(seen.filter((s) => s.includes("/upload") || s.startsWith("PUT")), []);
  assert.equal(await db.get("huge"), undefined);
  await db.close();
});
