/**
 * FileStore is crash-safe: whatever point a process dies at, reopening gives the state after some
 * whole number of setMany calls, never less than was acknowledged. Two ways in:
 * - a child writing in a loop is SIGKILLed at random points (seeded, the seed in the message), many
 *   times over the same directory, and each reopen is compared with the model;
 * - every cut of a log file (what a torn last write can leave) reopens to the state of its whole lines.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileStore, FILE_STORE_LOG, FILE_STORE_NAME } from "../../src/store/file-store.js";
import { decodeLog, encodeLogLine } from "../../src/store/store-log.js";
import { opFor } from "../helpers/store-crash-writer.js";
import { Prng } from "../sim/prng.js";

/** The entries after ops 0..last. */
function model(last: number): Record<string, string> {
  const m: Record<string, string> = {};
  for (let i = 0; i <= last; i++) Object.assign(m, opFor(i));
  return m;
}

async function contents(dir: string): Promise<Record<string, string>> {
  const s = new FileStore(dir);
  const out: Record<string, string> = {};
  for (const k of await s.keys()) out[k] = (await s.get(k))!;
  await s.close();
  return out;
}

/** Start the writer, wait for its first ack past `after`, let it run `ms` more, SIGKILL it. Returns the last ack seen. */
function runAndKill(dir: string, ms: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "test/helpers/store-crash-writer.ts", dir], { stdio: ["ignore", "pipe", "pipe"] });
    let last = -1;
    let buffered = "";
    let stderr = "";
    let timer: NodeJS.Timeout | undefined;
    child.stdout.on("data", (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split("\n");
      buffered = lines.pop()!;
      for (const l of lines) last = Number(l.slice(4));
      timer ??= setTimeout(() => child.kill("SIGKILL"), ms);
    });
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (signal !== "SIGKILL") reject(new Error(`writer ended by itself (${code}): ${stderr}`));
      else resolve(last);
    });
  });
}

test("FileStore: a writer SIGKILLed at random points loses no acknowledged write and leaves a whole state", { timeout: 240_000 }, async () => {
  const seed = 20261204;
  const random = new Prng(seed);
  const dir = mkdtempSync(join(tmpdir(), "mxdb-crash-"));
  try {
    let acked = -1;
    for (let round = 0; round < 12; round++) {
      const ms = random.int(0, 400);
      const last = await runAndKill(dir, ms);
      acked = Math.max(acked, last);
      const got = await contents(dir);
      const counter = Number(got.counter);
      const where = `seed ${seed}, round ${round}, killed ${ms} ms after the first ack; last ack ${acked}, store at ${counter}`;
      assert.ok(counter >= acked, `acknowledged writes lost: ${where}`);
      assert.ok(counter <= acked + 1, `the store is ahead of what can have been written: ${where}`);
      assert.deepEqual(got, model(counter), `not the state after op ${counter}: ${where}`);
      acked = counter;
    }
    // The log was used and folded into the base along the way.
    assert.ok(statSync(join(dir, FILE_STORE_NAME)).size > 40_000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("FileStore: a log cut at any byte reopens to the state of its whole lines, and writing goes on from there", { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "mxdb-torn-"));
  try {
    const src = join(dir, "src");
    const s = new FileStore(src);
    await s.setMany({ base: "b" }); // the first write makes the base; the rest go to the log
    const ops = [{ a: "1" }, { b: "2", a: undefined }, { c: "grüße ✓\n\t\"" }, { a: "4", c: undefined }];
    for (const op of ops) await s.setMany(op);
    await s.close();
    const log = readFileSync(join(src, FILE_STORE_LOG));
    assert.equal(log.toString("utf8"), ops.map(encodeLogLine).join(""), "one line per setMany, nothing else");
    const lineEnds = [...log.keys()].filter((i) => log[i] === 0x0a).map((i) => i + 1);
    for (let cut = 0; cut <= log.length; cut++) {
      const copy = join(dir, `cut-${cut}`);
      mkdirSync(copy);
      copyFileSync(join(src, FILE_STORE_NAME), join(copy, FILE_STORE_NAME));
      copyFileSync(join(src, FILE_STORE_LOG), join(copy, FILE_STORE_LOG));
      truncateSync(join(copy, FILE_STORE_LOG), cut);
      const whole = lineEnds.filter((e) => e <= cut).length;
      const expected: Record<string, string> = { base: "b" };
      for (const op of ops.slice(0, whole)) for (const [k, v] of Object.entries(op)) v === undefined ? delete expected[k] : (expected[k] = v);
      assert.deepEqual(await contents(copy), expected, `cut at byte ${cut}`);
      // The torn tail is gone from the file, so the next line follows a whole one.
      assert.equal(statSync(join(copy, FILE_STORE_LOG)).size, lineEnds.filter((e) => e <= cut).at(-1) ?? 0);
      const again = new FileStore(copy);
      await again.set("after", "crash");
      assert.deepEqual(await contents(copy), { ...expected, after: "crash" }, `write after a cut at byte ${cut}`);
      rmSync(copy, { recursive: true, force: true });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("store log: a flipped byte fails the checksum and ends the log there", { timeout: 10_000 }, () => {
  const text = encodeLogLine({ a: "1" }) + encodeLogLine({ b: "2" });
  assert.deepEqual(decodeLog(text).records, [{ a: "1" }, { b: "2" }]);
  const flipped = text.replace('"b":"2"', '"b":"3"');
  const d = decodeLog(flipped);
  assert.deepEqual(d.records, [{ a: "1" }]);
  assert.equal(d.torn, true);
  assert.equal(d.goodBytes, Buffer.byteLength(encodeLogLine({ a: "1" })));
});

test("FileStore: each write costs what it changed, not the whole store", { timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "mxdb-cost-"));
  try {
    const s = new FileStore(dir);
    const big: Record<string, string> = {};
    for (let i = 0; i < 2000; i++) big[`room/${i}`] = `event ${i} ${"y".repeat(100)}`;
    await s.setMany(big);
    const afterBase = s.bytesWritten;
    await s.setMany({ "room/7": "changed", token: "s2" });
    const small = s.bytesWritten - afterBase;
    assert.equal(small, Buffer.byteLength(encodeLogLine({ "room/7": "changed", token: "s2" })), "one log line");
    assert.ok(small < 100, `${small} bytes for a two-entry change`);
    await s.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
