/**
 * `npm run build`: the package's JavaScript, bundled with esbuild, beside tsc's declarations.
 *
 * Why bundle: Node loads one file far faster than a hundred (zod alone is dozens), so `import("mxdb")`
 * costs about 40 ms and 8 MiB instead of 120 ms and 14 MiB (bench/cold-start.ts). Entries keep their
 * paths (dist/index.js, dist/node.js, dist/cli/main.js, dist/http/undici-transport.js); code they
 * share, and what loads lazily (encryption, the Node-only modules), goes to dist/chunks/. undici and
 * @matrix-org/olm stay external: undici is Node's transport, and olm finds its olm.wasm beside its
 * own script.
 */
import { build } from "esbuild";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { projectRoot } from "../src/homeserver/venv.js";

const root = projectRoot();
const dist = join(root, "dist");
const keepDeclarations = process.argv.includes("--keep");
if (!keepDeclarations) rmSync(dist, { recursive: true, force: true });

const result = await build({
  absWorkingDir: root,
  entryPoints: {
    index: "src/index.ts",
    node: "src/node.ts",
    "cli/main": "src/cli/main.ts",
    "http/undici-transport": "src/http/undici-transport.ts",
  },
  outdir: dist,
  chunkNames: "chunks/[name]-[hash]",
  bundle: true,
  splitting: true,
  format: "esm",
  // Neutral: the same files serve Node (via dist/node.js) and browsers and Workers (dist/index.js).
  platform: "neutral",
  mainFields: ["module", "main"],
  target: "es2022",
  external: ["node:*", "undici", "@matrix-org/olm"],
  metafile: true,
  logLevel: "warning",
});
const bytes = Object.entries(result.metafile.outputs).reduce((n, [, o]) => n + o.bytes, 0);
console.log(`dist: ${Object.keys(result.metafile.outputs).length} files, ${(bytes / 1024).toFixed(1)} KB`);
