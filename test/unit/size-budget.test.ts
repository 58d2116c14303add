/**
 * The size budget of issue "runs everywhere" (docs/RUNTIMES.md): the browser bundle of `Memory`
 * without encryption stays at most 60 KB gzip, built as bench/size/bundle.ts builds it (esbuild,
 * browser, minified, gzip -9). A size, not a time: the bench reports the figures beside matrix-js-sdk's.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { measureSizes } from "../../bench/size/bundle.js";

test("the browser bundle of Memory without encryption is at most 60 KB gzip, and builds with nothing stubbed", { timeout: 120_000 }, async () => {
  const r = await measureSizes();
  assert.ok(r.mxdbCore.gzip <= 60 * 1024, `mxdb core: ${(r.mxdbCore.gzip / 1024).toFixed(1)} KB gzip`);
  // undici (once 47% of it) is not in it: the largest parts are mxdb's own code and zod/mini.
  assert.ok(!r.mxdbCore.top.some((t) => t.input === "undici"), JSON.stringify(r.mxdbCore.top));
  assert.ok(r.mxdbWithEncryption.gzip > r.mxdbCore.gzip, "encryption loads in chunks of its own");
});
