/**
 * Cold start on Node: the time `import()` takes and the resident memory it adds over bare Node, for
 * the built package's core (dist/index.js) and Node entry (dist/node.js), and matrix-js-sdk's
 * entry for comparison. Each figure is the median of fresh processes; the baseline is the same probe
 * importing nothing. undici is not loaded by the import (it waits for the first request).
 *
 *   npm run bench:cold [-- --runs 15 --json]
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { projectRoot } from "../src/homeserver/venv.js";

const root = projectRoot();
const { values } = parseArgs({ options: { runs: { type: "string", default: "15" }, json: { type: "boolean", default: false }, "no-build": { type: "boolean", default: false } } });
const runs = Number(values.runs);

export interface ColdStart {
  name: string;
  importMs: number;
  rssMiB: number;
  /** Over the same probe importing nothing. */
  addedMiB: number;
}

const PROBE = `const target = process.argv[2];
const t0 = performance.now();
if (target) await import(target);
const ms = performance.now() - t0;
globalThis.gc?.();
console.log(JSON.stringify({ ms, rss: process.memoryUsage().rss }));
`;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function measure(probe: string, target: string | undefined): { ms: number; rss: number } {
  const ms: number[] = [];
  const rss: number[] = [];
  for (let i = 0; i < runs; i++) {
    const out = JSON.parse(execFileSync(process.execPath, ["--expose-gc", probe, ...(target ? [target] : [])], { cwd: root, encoding: "utf8" })) as { ms: number; rss: number };
    ms.push(out.ms);
    rss.push(out.rss);
  }
  return { ms: median(ms), rss: median(rss) };
}

export function coldStart(): ColdStart[] {
  if (!values["no-build"]) execFileSync("npm", ["run", "--silent", "build"], { cwd: root, stdio: "ignore" });
  const dir = mkdtempSync(join(tmpdir(), "mxdb-cold-"));
  try {
    const probe = join(dir, "probe.mjs");
    writeFileSync(probe, PROBE);
    const bare = measure(probe, undefined);
    const targets: [string, string][] = [
      ["mxdb core (dist/index.js)", join(root, "dist", "index.js")],
      ["mxdb Node entry (dist/node.js)", join(root, "dist", "node.js")],
      ["matrix-js-sdk", import.meta.resolve("matrix-js-sdk")],
    ];
    const MiB = 1024 * 1024;
    return [
      { name: "bare Node (baseline)", importMs: 0, rssMiB: bare.rss / MiB, addedMiB: 0 },
      ...targets.map(([name, target]) => {
        const m = measure(probe, target);
        return { name, importMs: m.ms, rssMiB: m.rss / MiB, addedMiB: (m.rss - bare.rss) / MiB };
      }),
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = coldStart();
  if (values.json) console.log(JSON.stringify(rows, null, 2));
  else {
    console.log(`Node ${process.version}, median of ${runs} fresh processes each.\n`);
    console.log("| import | time | RSS | added over bare Node |\n| --- | --- | --- | --- |");
    for (const r of rows) console.log(`| ${r.name} | ${r.importMs.toFixed(1)} ms | ${r.rssMiB.toFixed(1)} MiB | +${r.addedMiB.toFixed(1)} MiB |`);
  }
}
