/**
 * The built package (npm run build: esbuild bundles beside tsc's declarations), as Node imports it:
 * the entries exist with their names, the Node entry's FileStore works, and undici is not loaded by
 * the import, only by the first request (docs/RUNTIMES.md). Builds into a temporary directory.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { projectRoot } from "../../src/homeserver/venv.js";

const root = projectRoot();

test("the bundled dist: core and Node entries load, FileStore works, undici waits for the first request", { timeout: 120_000 }, () => {
  // Built in place of dist/ (what `npm pack` would ship); the bundle step alone is enough for this test.
  execFileSync(process.execPath, ["--import", "tsx", "scripts/build.ts"], { cwd: root, stdio: "pipe" });
  const dir = mkdtempSync(join(tmpdir(), "mxdb-dist-"));
  try {
    const probe = join(dir, "probe.mjs");
    writeFileSync(
      probe,
      `import { createRequire } from "node:module";
const require = createRequire(${JSON.stringify(join(root, "package.json"))});
const undiciLoaded = () => Object.keys(require.cache).some((k) => k.includes("/node_modules/undici/"));
const core = await import(${JSON.stringify(join(root, "dist", "index.js"))});
const node = await import(${JSON.stringify(join(root, "dist", "node.js"))});
const out = { coreHasFileStore: "FileStore" in core, nodeNames: ["Memory", "FileStore", "fileTraceSink", "memoryInEventRoom", "RoomHandle", "TransportRefusedError"].filter((n) => !(n in node)), sameMemory: core.Memory === node.Memory, undiciAfterImport: undiciLoaded() };
const store = new node.FileStore(${JSON.stringify(join(dir, "store"))});
await store.set("k", "v");
out.fileStore = await new node.FileStore(${JSON.stringify(join(dir, "store"))}).get("k");
const t = node.defaultTransport();
await t({ method: "GET", url: "http://127.0.0.1:9/", headers: {} }).catch(() => undefined);
out.undiciAfterRequest = undiciLoaded();
await t.close();
console.log(JSON.stringify(out));
`,
    );
    const out = JSON.parse(execFileSync(process.execPath, [probe], { cwd: dir, encoding: "utf8" })) as Record<string, unknown>;
    assert.deepEqual(out, { coreHasFileStore: false, nodeNames: [], sameMemory: true, undiciAfterImport: false, fileStore: "v", undiciAfterRequest: true });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
