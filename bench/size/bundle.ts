/**
 * Bundle sizes, measured the way a browser app would ship mxdb: esbuild, ESM, minified, for the
 * browser, with code splitting so what loads lazily (encryption) lands in its own chunks. Reports
 * minified and gzip -9 bytes for
 *   - mxdb's `Memory` without encryption (the entry chunk and what it imports statically),
 *   - the same with encryption loaded (every chunk, olm's JS included; olm.wasm reported apart),
 *   - matrix-js-sdk's `createClient`, built with the same settings in the same run.
 *
 *   npx tsx bench/size/bundle.ts [--json]
 */
import { build, type Metafile } from "esbuild";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { projectRoot } from "../../src/homeserver/venv.js";

const root = projectRoot();

export interface BundleSize {
  name: string;
  minified: number;
  gzip: number;
  /** The biggest inputs by bytes in the output, so a regression names its cause. */
  top: { input: string; bytes: number }[];
}

export interface SizeReport {
  esbuild: string;
  mxdbCore: BundleSize;
  mxdbWithEncryption: BundleSize;
  olmWasm: { bytes: number; gzip: number };
  matrixJsSdk: BundleSize;
  matrixJsSdkAll: BundleSize;
}

/** Emscripten's olm.js reaches for these only when it runs under Node; a browser build leaves them out. */
const NODE_ONLY_IN_OLM = ["fs", "path", "crypto"];

async function bundle(name: string, source: string, chunks: "entry" | "all"): Promise<BundleSize> {
  const dir = mkdtempSync(join(tmpdir(), "mxdb-size-"));
  try {
    const entry = join(dir, "entry.ts");
    writeFileSync(entry, source);
    const result = await build({
      entryPoints: [entry],
      bundle: true,
      minify: true,
      splitting: true,
      format: "esm",
      platform: "browser",
      target: "es2022",
      outdir: join(dir, "out"),
      metafile: true,
      logLevel: "silent",
      external: NODE_ONLY_IN_OLM,
      nodePaths: [join(root, "node_modules")],
      absWorkingDir: root,
    });
    const outputs = Object.entries(result.metafile.outputs).filter(([path]) => path.endsWith(".js"));
    const chosen = chunks === "all" ? outputs : outputs.filter(([, o]) => o.entryPoint?.endsWith("entry.ts") === true).flatMap(([path, o]) => [[path, o] as const, ...staticImports(result.metafile, o)]);
    const seen = new Set<string>();
    let minified = 0;
    let gzip = 0;
    const inputs = new Map<string, number>();
    for (const [path, output] of chosen) {
      if (seen.has(path)) continue;
      seen.add(path);
      const bytes = readFileSync(join(root, path));
      minified += bytes.length;
      gzip += gzipSync(bytes, { level: 9 }).length;
      for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) if (!input.endsWith("entry.ts")) inputs.set(packageOf(input), (inputs.get(packageOf(input)) ?? 0) + bytesInOutput);
    }
    const top = [...inputs].sort((a, b) => b[1] - a[1]).slice(0, 6).map(([input, bytes]) => ({ input, bytes }));
    return { name, minified, gzip, top };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The chunks an output imports statically, transitively (what loads before the entry runs). */
function staticImports(meta: Metafile, output: Metafile["outputs"][string]): (readonly [string, Metafile["outputs"][string]])[] {
  const out: (readonly [string, Metafile["outputs"][string]])[] = [];
  const queue = output.imports.filter((i) => i.kind === "import-statement").map((i) => i.path);
  const seen = new Set<string>();
  while (queue.length > 0) {
    const path = queue.shift()!;
    const o = meta.outputs[path];
    if (seen.has(path) || !o) continue;
    seen.add(path);
    out.push([path, o]);
    queue.push(...o.imports.filter((i) => i.kind === "import-statement").map((i) => i.path));
  }
  return out;
}

/** "node_modules/zod/v4/core/x.js" -> "zod"; mxdb's own files -> "mxdb (src)". */
function packageOf(input: string): string {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
  return m ? m[1]! : input.includes("/src/") || input.startsWith("src/") ? "mxdb (src)" : input;
}

export async function measureSizes(): Promise<SizeReport> {
  const index = join(root, "src", "index.ts");
  const { version } = JSON.parse(readFileSync(join(root, "node_modules", "esbuild", "package.json"), "utf8")) as { version: string };
  // Encryption: the same entry, but the app also opens an encrypted memory, so every lazy chunk loads.
  const [mxdbCore, mxdbWithEncryption, matrixJsSdk, matrixJsSdkAll] = await Promise.all([
    bundle("mxdb Memory (no encryption)", `export { Memory } from ${JSON.stringify(index)};\n`, "entry"),
    bundle("mxdb Memory + encryption (olm JS)", `export { Memory } from ${JSON.stringify(index)};\n`, "all"),
    bundle("matrix-js-sdk createClient", `export { createClient } from "matrix-js-sdk";\n`, "entry"),
    bundle("matrix-js-sdk createClient + its lazy chunks (Rust crypto's JS)", `export { createClient } from "matrix-js-sdk";\n`, "all"),
  ]);
  const wasm = readFileSync(join(root, "node_modules", "@matrix-org", "olm", "olm.wasm"));
  return { esbuild: version, mxdbCore, mxdbWithEncryption, olmWasm: { bytes: statSync(join(root, "node_modules", "@matrix-org", "olm", "olm.wasm")).size, gzip: gzipSync(wasm, { level: 9 }).length }, matrixJsSdk, matrixJsSdkAll };
}

const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;

export function renderSizes(r: SizeReport): string {
  const rows = [r.mxdbCore, r.mxdbWithEncryption, r.matrixJsSdk, r.matrixJsSdkAll].map((b) => `| ${b.name} | ${kb(b.minified)} | ${kb(b.gzip)} | ${b.top.map((t) => `${t.input} ${kb(t.bytes)}`).join(", ")} |`);
  return [
    `esbuild ${r.esbuild}, ESM, minified, platform browser, code splitting; gzip -9.`,
    "",
    "| bundle | minified | gzip | largest parts (minified) |",
    "| --- | --- | --- | --- |",
    ...rows,
    `| olm.wasm (loaded apart) | ${kb(r.olmWasm.bytes)} | ${kb(r.olmWasm.gzip)} | |`,
  ].join("\n");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const report = await measureSizes();
  console.log(process.argv.includes("--json") ? JSON.stringify(report, null, 2) : renderSizes(report));
}
