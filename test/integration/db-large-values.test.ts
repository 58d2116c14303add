/**
 * Values larger than one event go to the media repository (docs/LARGE-VALUES.md), on the stock
 * Synapse: 100 KB, 1 MB and 10 MB round trips in both singleStateKey modes, plain and encrypted,
 * read by another user's memory; a shared state key pushed over the budget by another key; the
 * plaintext absent from Synapse's media store for encrypted rooms (and present for plain ones, so
 * the scan can see it); a corrupted download refused; "refuse" mode and the reference shape.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EventTooLargeError, InvalidValueError, MediaValueError, Memory, type MemoryOptions } from "../../src/index.js";
import { getStateContent } from "../../src/http/endpoints/state/get-state.js";
import { estimateEventSize } from "../../src/db/size.js";
import { MEDIA_BUDGET_BYTES } from "../../src/db/media-values.js";
import { testHomeserver, newUser, type TestUser } from "../helpers/homeserver.js";
import { sharedRoom } from "../helpers/rooms.js";
import { eventually } from "../helpers/wait.js";

let baseUrl: string;
let mediaDir: string;
let alice: TestUser;
let bob: TestUser;
let plainRoom: string;
let encryptedRoom: string;
const open = new Set<Memory>();
const marker = `MXDB-LARGE-${randomBytes(6).toString("hex")}`;

/** One store directory per user, reused by each memory it opens (one at a time): its device keeps one crypto account. */
const stores = new Map<string, string>();
function storeFor(user: TestUser): string {
  if (!stores.has(user.userId)) stores.set(user.userId, mkdtempSync(join(tmpdir(), "mxdb-large-")));
  return stores.get(user.userId)!;
}

async function memory(user: TestUser, room: string, options: Partial<MemoryOptions> = {}): Promise<Memory> {
  const m = await Memory.open({ homeserver: baseUrl, accessToken: user.accessToken, deviceId: user.deviceId, rooms: { main: room }, syncTimeoutMs: 2_000, store: storeFor(user), ...options } as MemoryOptions);
  open.add(m);
  return m;
}

/** A JSON value of about `bytes` bytes that names the marker. */
const big = (bytes: number, tag: string) => ({ marker, tag, blob: "x".repeat(bytes) });

/** Every file under Synapse's media store. */
function mediaFiles(dir = mediaDir): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? mediaFiles(join(dir, e.name)) : [join(dir, e.name)]));
}

function mediaFile(mxc: string): string {
  const id = mxc.slice(mxc.lastIndexOf("/") + 1);
  return join(mediaDir, "local_content", id.slice(0, 2), id.slice(2, 4), id.slice(4));
}

before(async () => {
  const hs = await testHomeserver();
  baseUrl = hs.info.baseUrl;
  mediaDir = join(hs.info.dir, "media_store");
  [alice, bob] = await Promise.all([newUser("large-a"), newUser("large-b")]);
  plainRoom = await sharedRoom(alice, [bob]);
  encryptedRoom = await sharedRoom(alice, [bob], { encrypted: true });
});
after(async () => {
  for (const m of open) await m.close().catch(() => undefined);
  for (const d of stores.values()) rmSync(d, { recursive: true, force: true });
});

async function closeAll(): Promise<void> {
  for (const m of open) await m.close();
  open.clear();
}

const SIZES = [100 * 1024, 1024 * 1024, 10 * 1024 * 1024];

for (const encrypted of [false, true]) {
  test(`100 KB, 1 MB and 10 MB values in both state key modes, ${encrypted ? "encrypted" : "plain"}, read by another user`, { timeout: 600_000 }, async () => {
    const room = encrypted ? encryptedRoom : plainRoom;
    for (const singleStateKey of [true, false]) {
      // The reader's device exists before the writer shares room keys.
      const reader = await memory(bob, room, { singleStateKey });
      const writer = await memory(alice, room, { singleStateKey });
      for (const size of SIZES) {
        const key = `v-${size}-${singleStateKey}`;
        const value = big(size, `${encrypted ? "enc" : "plain"}-${key}`);
        await writer.put(key, value);
        assert.deepEqual(await writer.get(key), value, "read your own write");
        await writer.flush();
        const got = await eventually(() => reader.get(key).catch((e: unknown) => e), (v) => v !== undefined && !(v instanceof Error), 60_000);
        assert.deepEqual(got, value, `${key} read by the other user`);
        // What the state holds: a reference (plain room) or an encrypted reference, never the value.
        const content = (await alice.client.send(getStateContent, { roomId: room, eventType: "dev.opsdroid.database", stateKey: singleStateKey ? "" : key })) as Record<string, unknown>;
        const stored = content[key] as Record<string, unknown>;
        if (encrypted) assert.deepEqual(Object.keys(stored), ["encrypted_val"]);
        else {
          assert.deepEqual(Object.keys(stored), ["mxdb_media"]);
          const ref = stored.mxdb_media as { v: number; url: string; size: number; sha256: string };
          assert.equal(ref.v, 1);
          assert.match(ref.url, /^mxc:\/\//);
          assert.equal(ref.size, Buffer.byteLength(JSON.stringify(value)));
        }
      }
      await closeAll();
    }
  });
}

test("Synapse's media store holds the marker for plain rooms and never for encrypted ones", { timeout: 120_000 }, async () => {
  const tags = mediaFiles()
    .map((f) => readFileSync(f))
    .filter((bytes) => bytes.includes(marker))
    .map((bytes) => (JSON.parse(bytes.toString("utf8")) as { tag: string }).tag)
    .sort();
  // The six plain-room values (3 sizes x 2 modes) are stored as they are, so the scan can see the marker...
  assert.deepEqual(tags.filter((t) => t.startsWith("plain-")), SIZES.flatMap((s) => [true, false].map((m) => `plain-v-${s}-${m}`)).sort());
  // ...and none of the six encrypted-room values, nor their keys, is readable there.
  assert.deepEqual(tags.filter((t) => !t.startsWith("plain-")), []);
});

test("a shared state key pushed over the budget by another key moves the largest value out", { timeout: 300_000 }, async () => {
  const writer = await memory(alice, plainRoom, { singleStateKey: "shared-budget" });
  const reader = await memory(bob, plainRoom, { singleStateKey: "shared-budget" });
  const a = { text: "a".repeat(40 * 1024) };
  const b = { text: "b".repeat(20 * 1024) };
  await writer.put("a", a);
  await writer.put("b", b);
  await writer.flush();
  const content = (await alice.client.send(getStateContent, { roomId: plainRoom, eventType: "dev.opsdroid.database", stateKey: "shared-budget" })) as Record<string, unknown>;
  assert.deepEqual(Object.keys(content.a as object), ["mxdb_media"], "a, the largest, moved out when b pushed the event over");
  assert.deepEqual(content.b, b, "b stays in the event");
  assert.ok(estimateEventSize({ roomId: plainRoom, sender: alice.userId, type: "dev.opsdroid.database", stateKey: "shared-budget", content }) <= MEDIA_BUDGET_BYTES);
  assert.deepEqual(await eventually(() => reader.get("a"), (v) => v !== undefined), a);
  assert.deepEqual(await reader.get("b"), b);
  const refs = await reader.mediaReferences();
  assert.deepEqual(refs.map((r) => [r.key, r.encrypted, r.size]), [["a", false, Buffer.byteLength(JSON.stringify(a))]]);
  assert.equal(refs[0]!.uri, (content.a as { mxdb_media: { url: string } }).mxdb_media.url);
  await closeAll();
});

for (const encrypted of [false, true]) {
  test(`a corrupted download is refused with MediaValueError naming the key and the media (${encrypted ? "encrypted" : "plain"})`, { timeout: 300_000 }, async () => {
    const room = encrypted ? encryptedRoom : plainRoom;
    const key = `corrupt-${encrypted}`;
    const reader = await memory(bob, room, { singleStateKey: false });
    const writer = await memory(alice, room, { singleStateKey: false });
    await writer.put(key, big(200 * 1024, key));
    await writer.flush();
    const listed = (await writer.mediaReferences()).find((r) => r.key === key);
    assert.deepEqual(listed && [listed.encrypted, /^mxc:\/\//.test(listed.uri)], [encrypted, true], "listed among the media references");
    // Find the upload: the newest file in the media store.
    const files = mediaFiles().map((f) => [f, readFileSync(f).length] as const).filter(([, n]) => n >= 200 * 1024 && n < 210 * 1024);
    assert.ok(files.length > 0);
    for (const [f] of files) {
      const bytes = readFileSync(f);
      bytes[1000] = bytes[1000]! ^ 0xff;
      writeFileSync(f, bytes);
    }
    await assert.rejects(
      eventually(() => reader.get(key).catch((e: unknown) => (e instanceof MediaValueError ? Promise.reject(e) : undefined)), (v) => v !== undefined, 60_000),
      (e: unknown) => e instanceof MediaValueError && e.key === key && /^mxc:\/\//.test(e.mediaUri) && /SHA-256/.test(e.message),
    );
    await closeAll();
  });
}

test('largeValues: "refuse" keeps EventTooLargeError; a value shaped like a media reference is refused', { timeout: 120_000 }, async () => {
  const strict = await memory(alice, plainRoom, { singleStateKey: false, largeValues: "refuse" });
  await assert.rejects(strict.put("too-big", big(100 * 1024, "refuse")), EventTooLargeError);
  assert.equal(await strict.get("too-big"), undefined);
  await assert.rejects(strict.put("shape", { mxdb_media: { v: 1, url: "mxc://x/y" } }), InvalidValueError);
  await assert.rejects(memory(alice, plainRoom, { largeValues: "sometimes" as "media" }), /largeValues/);
  await closeAll();
});
