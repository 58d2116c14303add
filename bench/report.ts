/**
 * The run's outputs from its JSON: a Markdown table (docs/PRODUCT.md "Performance targets", met or
 * not, then the detail of each scenario) and an SVG chart written by hand as text (no chart library).
 */
import type { BurstResult } from "./scenarios/burst.js";
import type { EncryptedResult } from "./scenarios/encrypted.js";
import type { FootprintResult } from "./scenarios/footprint.js";
import type { GetResult } from "./scenarios/get.js";
import type { OpenResult } from "./scenarios/open.js";
import type { RateLimitedResult } from "./scenarios/rate-limited.js";
import type { SyncLatencyResult } from "./scenarios/sync-latency.js";
import type { ThroughputResult } from "./scenarios/throughput.js";

export interface BenchResults {
  meta: {
    date: string;
    size: "full" | "quick";
    scenarios: string[];
    node: string;
    platform: string;
    cpus: string;
    memoryGB: number;
    synapse: string;
    opsdroid: Record<string, string> | undefined;
    wallSeconds: number;
  };
  get?: GetResult;
  burst?: BurstResult;
  ratelimit?: RateLimitedResult;
  throughput?: ThroughputResult;
  open?: OpenResult;
  encrypted?: EncryptedResult;
  footprint?: FootprintResult;
  sync?: SyncLatencyResult;
}

export interface TargetRow {
  target: string;
  measured: string;
  met: boolean | undefined;
}

const f = (x: number, d = 1) => x.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d });
/** A duration given in µs, shown in µs below a millisecond and in ms above. */
const us = (x: number) => (x < 1_000 ? `${f(x, 2)} µs` : `${f(x / 1e3, 2)} ms`);

/** One row per docs/PRODUCT.md "Performance targets" entry; `met` undefined when the scenario did not run. */
export function targetRows(r: BenchResults): TargetRow[] {
  const rows: TargetRow[] = [];
  const g = r.get;
  rows.push({
    target: "`get` of a present key: median under 5 µs",
    measured: g ? `${f(g.mxdb.median, 2)} µs median, p99 ${f(g.mxdb.p99, 2)} µs (opsdroid ${f(g.opsdroid.median / 1e3, 2)} ms, raw GET ${f(g.raw.median / 1e3, 2)} ms)` : "not run",
    met: g ? g.mxdb.median < 5 : undefined,
  });
  const b = r.burst;
  rows.push({
    target: "1,000 concurrent puts over 100 keys (`singleStateKey: true`): at most 5 state PUTs, all values readable",
    measured: b ? `${b.mxdb.statePuts.max} state PUT(s) at most (median ${b.mxdb.statePuts.median}) over ${b.mxdb.runs.length} runs; ${b.mxdb.allSurvived ? "all 100 keys read back every run" : "SOME VALUES MISSING"}; accepted in ${f(b.mxdb.acceptedMs.median)} ms (opsdroid: ${b.opsdroid.statePuts} PUTs, ${b.opsdroid.survived}/100 keys survived)` : "not run",
    met: b ? b.mxdb.statePuts.max <= 5 && b.mxdb.allSurvived : undefined,
  });
  const rl = r.ratelimit;
  rows.push({
    target: "Default rate limits (0.2/s, burst 10): 100 puts land in under 3 s",
    measured: rl ? `${f(rl.mxdb.landedMs.median / 1e3, 2)} s median (max ${f(rl.mxdb.landedMs.max / 1e3, 2)} s) (opsdroid: ${rl.opsdroid.landed}/100 in ${rl.opsdroid.deadlineS} s)` : "not run",
    met: rl ? rl.mxdb.landedMs.max < 3_000 && rl.mxdb.allReadBack : undefined,
  });
  const d = rl?.distinct;
  rows.push({
    target: "Default rate limits, N puts to distinct keys: all land, close to the least time the limit allows (burst, then (N - burst) / 0.2 s)",
    measured: d ? `${d.readBack}/${d.puts} landed in ${f(d.landedMs / 1e3, 1)} s vs ${f(d.minimumMs / 1e3, 1)} s: ratio ${f(d.ratio, 2)} (${d.statePuts} state PUTs, ${d.rateLimited}×429)` : "not run",
    met: d ? d.readBack === d.puts : undefined,
  });
  const t = r.throughput;
  rows.push({
    target: "Distinct-key puts (`singleStateKey: false`, limits lifted): at least 90% of raw concurrent state PUTs",
    measured: t
      ? `${f(t.mxdbFraction * 100)}% (median ${f(t.variants.mxdb!.rate.median)} of ${f(t.ceiling.rate)} puts/s)` +
        (t.pairedFraction ? `; paired per repeat: median ${f(t.pairedFraction.median * 100)}%, ${f(t.pairedFraction.min * 100, 0)}–${f(t.pairedFraction.max * 100, 0)}%` : "")
      : "not run",
    met: t ? t.mxdbFraction >= 0.9 : undefined,
  });
  const o = r.open;
  const full = o !== undefined && o.keys >= 10_000;
  const warmNote = (x: { median: number } | undefined, unit: (v: number) => string) => (x ? `; warm start from its store ${unit(x.median)}` : "");
  rows.push({
    target: "Opening a room of 10,000 keys: under 2 s to the first `get` (cold start)",
    measured: o
      ? `${f(o.cold.firstGetMs.median / 1e3, 2)} s median (max ${f(o.cold.firstGetMs.max / 1e3, 2)} s)${warmNote(o.warm?.firstGetMs, (v) => `${f(v / 1e3, 2)} s`)}${full ? "" : `; ONLY ${o.keys} KEYS (room still being built)`}`
      : "not run",
    met: o ? full && o.cold.firstGetMs.median < 2_000 : undefined,
  });
  rows.push({
    target: "… and under 100 MB resident",
    measured: o ? `${f(o.cold.rssMB.median)} MB median (max ${f(o.cold.rssMB.max)} MB; ${f(o.cold.baselineRssMB.median)} MB before open)${warmNote(o.warm?.rssMB, (v) => `${f(v)} MB`)}` : "not run",
    met: o ? full && o.cold.rssMB.max < 100 : undefined,
  });
  const fp = r.footprint;
  rows.push({
    target: "Production dependencies on disk: under 15 MB",
    measured: fp ? `${f(fp.mxdb.diskMB)} MB (${fp.others.map((x) => `${x.package} ${f(x.diskMB)} MB`).join(", ")})` : "not run",
    met: fp ? fp.mxdb.diskMB < 15 : undefined,
  });
  return rows;
}

function table(head: string[], rows: string[][]): string {
  return [`| ${head.join(" | ")} |`, `|${head.map(() => "---").join("|")}|`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n");
}

export function renderMarkdown(r: BenchResults): string {
  const m = r.meta;
  const out: string[] = [];
  out.push(`# mxdb benchmarks`, "");
  out.push(
    `Run ${m.date} (${m.size === "full" ? "full run" : "quick run: small sizes"}, ${f(m.wallSeconds / 60)} min) on ${m.platform}, ${m.cpus}, ${m.memoryGB} GB; Node ${m.node}; Synapse ${m.synapse || "?"} (SQLite, loopback)` +
      (m.opsdroid ? `; opsdroid ${m.opsdroid.opsdroid} with matrix-nio ${m.opsdroid["matrix-nio"]} on Python ${m.opsdroid.python}` : "") +
      ". Regenerate with `npm run bench`; the chart is [latest.svg](latest.svg), the numbers [latest.json](latest.json).",
    "",
  );
  out.push("## PRODUCT.md targets", "");
  out.push(table(["Target", "Measured", "Met"], targetRows(r).map((x) => [x.target, x.measured, x.met === undefined ? "–" : x.met ? "met" : "**not met**"])), "");

  if (r.get) {
    const g = r.get;
    out.push("## 1. `get` of a present key", "");
    out.push(
      table(
        ["", "calls", "median", "p99", "IQR"],
        (
          [
            ["mxdb `await db.get(k)` (from the synced picture)", g.mxdb, g.iterations.mxdb],
            ["raw state GET (HttpClient)", g.raw, g.iterations.raw],
            ["opsdroid `get` (timed in Python)", g.opsdroid, g.iterations.opsdroid],
          ] as const
        ).map(([label, s, n]) => [label, n.toLocaleString("en-US"), us(s.median), us(s.p99), `${us(s.p25)} – ${us(s.p75)}`]),
      ),
      "",
    );
  }
  if (r.burst) {
    const b = r.burst;
    out.push("## 2. Burst: 1,000 concurrent puts over 100 keys, `singleStateKey: true`", "");
    out.push(
      table(
        ["", "state PUTs", "other state requests", "wall time", "keys with their last value"],
        [
          [`mxdb (median of ${b.mxdb.runs.length}; max)`, `${b.mxdb.statePuts.median}; ${b.mxdb.statePuts.max}`, "0", `${f(b.mxdb.acceptedMs.median)} ms accepted, ${f(b.mxdb.flushedMs.median)} ms confirmed by sync`, b.mxdb.allSurvived ? "100/100 every run" : b.mxdb.runs.map((x) => x.survived).join(", ")],
          [`opsdroid (concurrency ${b.opsdroid.concurrency}, one run)`, String(b.opsdroid.statePuts), `${b.opsdroid.gets} GETs`, `${f(b.opsdroid.wallMs)} ms`, `${b.opsdroid.survived}/100${b.opsdroid.failed ? ` (${b.opsdroid.failed} puts failed)` : ""}`],
        ],
      ),
      "",
    );
  }
  if (r.ratelimit) {
    const rl = r.ratelimit;
    out.push("## 3. Synapse's default rate limits: 100 puts, `singleStateKey: true`", "");
    out.push(
      table(
        ["", "time until all 100 landed", "state PUTs", "read back"],
        [
          [`mxdb (all at once, then flush; median of ${rl.mxdb.runs.length}, range)`, `${f(rl.mxdb.landedMs.median / 1e3, 2)} s (${f(rl.mxdb.landedMs.min / 1e3, 2)}–${f(rl.mxdb.landedMs.max / 1e3, 2)} s)`, rl.mxdb.runs.map((x) => `${x.statePuts}${x.rateLimited ? ` (+${x.rateLimited}×429)` : ""}`).join(", "), rl.mxdb.allReadBack ? "100/100" : rl.mxdb.runs.map((x) => x.readBack).join(", ")],
          [
            `opsdroid (sequential, cut off at ${rl.opsdroid.deadlineS} s)`,
            rl.opsdroid.landed >= 100 ? `${f(rl.opsdroid.lastLandedMs! / 1e3, 1)} s` : `not reached: ${rl.opsdroid.landed}/100 landed in ${rl.opsdroid.deadlineS} s (${f(rl.opsdroid.ratePerSecond, 2)} puts/s; ~${f(rl.opsdroid.estimatedAllMs / 1e3, 0)} s for all)`,
            `${rl.opsdroid.statePutRequests} requests (429s retried)`,
            `${rl.opsdroid.readBack}/100`,
          ],
        ],
      ),
      "",
    );
  }
  if (r.throughput) {
    const t = r.throughput;
    out.push(`## 4. Distinct keys, \`singleStateKey: false\`, rate limits lifted (median of ${t.repeats})`, "");
    const order = ["mxdb", "mxdb-16", "mxdb-32", "opsdroid", "raw-sequential", ...Object.keys(t.variants).filter((k) => k.startsWith("raw-concurrent")), "raw-16-sync"];
    out.push(
      table(
        ["", "puts/s (median)", "range", "of the ceiling", "CPU per put: client / Synapse", "/sync per put"],
        order.filter((k) => t.variants[k]).map((k) => {
          const v = t.variants[k]!;
          return [
            v.label + (k === t.ceiling.variant ? " — **ceiling**" : ""),
            f(v.rate.median),
            `${f(v.rate.min)}–${f(v.rate.max)}`,
            `${f((v.rate.median / t.ceiling.rate) * 100)}%`,
            `${v.clientCpuMsPerPut === undefined ? "(Python)" : `${f(v.clientCpuMsPerPut, 2)} ms`} / ${f(v.serverCpuMsPerPut, 1)} ms`,
            v.syncsPerPut === undefined ? "–" : f(v.syncsPerPut, 2),
          ];
        }),
      ),
      "",
      t.pairedFractions ? `mxdb over the best raw concurrent rate of the same repeat: ${t.pairedFractions.map((x) => `${f(x * 100, 0)}%`).join(", ")}.` : "",
      "",
      `mxdb until every write was confirmed by its own sync (flush): ${f(t.mxdbFlushed.median)} puts/s. CPU is per put over the measured window (Synapse's from /proc; one Python process, so its CPU per put bounds the rate).`,
      "",
    );
  }
  if (r.open) {
    const o = r.open;
    out.push(`## 5. Opening a room of ${o.keys.toLocaleString("en-US")} keys (each start in a child process: plain node, the library bundled)`, "");
    out.push(
      table(
        ["start", "Memory.open", "first get", "RSS before open", "RSS after first get", "heap used"],
        o.runs.map((x) => [x.kind, `${f(x.openedMs, 0)} ms`, `${f(x.firstGetMs, 0)} ms`, `${f(x.baselineRss / 2 ** 20)} MB`, `${f(x.rss / 2 ** 20)} MB`, `${f(x.heapUsed / 2 ** 20)} MB`]),
      ),
      "",
      "cold: nothing stored, the first /sync brings the whole room state; warm: restarted with the FileStore an earlier start left.",
      o.writeSeconds >= 1 ? `This run spent ${f(o.writeSeconds)} s writing keys into the kept room (bench/lib/big-room.ts).` : "The room was built by earlier runs and kept (bench/lib/big-room.ts).",
      "",
    );
  }
  if (r.encrypted) {
    const e = r.encrypted;
    out.push("## 6. Encrypted against unencrypted", "");
    if (!e.measured) out.push(e.note, "");
    else
      out.push(
        table(
          ["", "put (sequential) median", "put p99", "get median", "get p99"],
          [
            ["unencrypted", `${f(e.unencrypted.putMs.median, 2)} ms`, `${f(e.unencrypted.putMs.p99, 2)} ms`, `${f(e.unencrypted.getUs.median, 2)} µs`, `${f(e.unencrypted.getUs.p99, 2)} µs`],
            ["encrypted", `${f(e.encrypted.putMs.median, 2)} ms`, `${f(e.encrypted.putMs.p99, 2)} ms`, `${f(e.encrypted.getUs.median, 2)} µs`, `${f(e.encrypted.getUs.p99, 2)} µs`],
          ],
        ),
        "",
      );
  }
  if (r.footprint) {
    const fp = r.footprint;
    out.push("## 7. Footprint (`npm install --omit=dev --ignore-scripts` into an empty directory)", "");
    out.push(
      table(
        ["package", "version", "on disk (du)", "file bytes", "packages", "largest (MB)"],
        [fp.mxdb, ...fp.others].map((x) => [x.package, x.version, `${f(x.diskMB)} MB`, `${f(x.apparentMB)} MB`, String(x.packages), (x.largest ?? []).map((l) => `${l.name} ${f(l.diskMB)}`).join(", ")]),
      ),
      "",
      `mxdb measured by: ${fp.mxdb.how}.`,
      "",
      "bytes" in fp.bundle
        ? `Minified bundle of ${fp.bundle.entry} (esbuild, node, ESM, ${fp.bundle.external.join(", ")} external so the olm JS and wasm are not counted): ${f(fp.bundle.bytes / 1024)} KB, ${f(fp.bundle.gzipBytes / 1024)} KB gzipped.`
        : `Bundle not measured: ${fp.bundle.error}.`,
      "",
    );
  }
  if (r.sync) {
    out.push("## Sync latency (bench/sync-latency.ts)", "");
    out.push("error" in r.sync ? `Not measured: ${r.sync.error}` : `A's state PUT answered → B's sync loop sees it, ${r.sync.changes} changes one at a time: median ${f(r.sync.medianMs)} ms, p99 ${f(r.sync.p99Ms)} ms, max ${f(r.sync.maxMs)} ms.`, "");
  }
  return `${out.join("\n")}\n`;
}

// ---- SVG ------------------------------------------------------------------------------------------

interface Bar {
  label: string;
  value: number;
  text: string;
  ours?: boolean;
}

interface Panel {
  title: string;
  note: string;
  bars: Bar[];
  log?: boolean;
  /** Linear panels: the axis reaches at least this value. */
  axisMin?: number;
  /** A dashed line at the docs/PRODUCT.md target. */
  target?: { value: number; label: string };
}

const W = 880;
const LABEL_W = 250;
const BAR_W = 400;
const ROW_H = 24;

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function panels(r: BenchResults): Panel[] {
  const out: Panel[] = [];
  if (r.get) {
    const g = r.get;
    out.push({
      title: "1. get of a present key — median latency",
      note: "log scale, shorter is better",
      log: true,
      target: { value: 5, label: "target 5 µs" },
      bars: [
        { label: "mxdb", value: g.mxdb.median, text: `${f(g.mxdb.median, 2)} µs`, ours: true },
        { label: "raw state GET", value: g.raw.median, text: `${f(g.raw.median / 1e3, 2)} ms` },
        { label: "opsdroid", value: g.opsdroid.median, text: `${f(g.opsdroid.median / 1e3, 2)} ms` },
      ],
    });
  }
  if (r.burst) {
    const b = r.burst;
    out.push({
      title: "2. 1,000 concurrent puts over 100 keys — state PUTs on the wire",
      note: "log scale, shorter is better; kept = keys holding their last value",
      log: true,
      target: { value: 5, label: "target ≤ 5" },
      bars: [
        { label: "mxdb", value: b.mxdb.statePuts.median, text: `${b.mxdb.statePuts.median} PUT${b.mxdb.statePuts.median === 1 ? "" : "s"}, ${b.mxdb.allSurvived ? 100 : "<100"}/100 kept`, ours: true },
        { label: "opsdroid", value: b.opsdroid.statePuts, text: `${b.opsdroid.statePuts} PUTs (+${b.opsdroid.gets} GETs), ${b.opsdroid.survived}/100 kept` },
      ],
    });
  }
  if (r.ratelimit) {
    const rl = r.ratelimit;
    out.push({
      title: "3. Default rate limits — time until 100 puts have landed",
      note: "log scale, shorter is better; opsdroid's total estimated from the rate it reached",
      log: true,
      target: { value: 3, label: "target 3 s" },
      bars: [
        { label: "mxdb", value: rl.mxdb.landedMs.median / 1e3, text: `${f(rl.mxdb.landedMs.median / 1e3, 2)} s`, ours: true },
        { label: "opsdroid", value: rl.opsdroid.estimatedAllMs / 1e3, text: rl.opsdroid.landed >= 100 ? `${f(rl.opsdroid.estimatedAllMs / 1e3)} s` : `~${f(rl.opsdroid.estimatedAllMs / 1e3, 0)} s (${rl.opsdroid.landed} in ${rl.opsdroid.deadlineS} s)` },
      ],
    });
  }
  if (r.throughput) {
    const t = r.throughput;
    const v = t.variants;
    const bars: Bar[] = [{ label: "mxdb", value: v.mxdb!.rate.median, text: `${f(v.mxdb!.rate.median, 0)}/s (${f(t.mxdbFraction * 100, 0)}%)`, ours: true }];
    if (v.opsdroid) bars.push({ label: "opsdroid (concurrency 16)", value: v.opsdroid.rate.median, text: `${f(v.opsdroid.rate.median, 0)}/s` });
    if (v["raw-sequential"]) bars.push({ label: "raw PUT, sequential", value: v["raw-sequential"].rate.median, text: `${f(v["raw-sequential"].rate.median, 0)}/s` });
    const ceil = v[t.ceiling.variant]!;
    bars.push({ label: `raw PUT, ${t.ceiling.variant.replace("raw-concurrent-", "concurrency ")}`, value: ceil.rate.median, text: `${f(ceil.rate.median, 0)}/s (ceiling)` });
    out.push({ title: "4. Distinct keys, limits lifted — puts per second", note: "longer is better", bars, target: { value: 0.9 * t.ceiling.rate, label: "90% of ceiling" } });
  }
  if (r.open) {
    const o = r.open;
    out.push({
      title: `5. Opening a room of ${o.keys.toLocaleString("en-US")} keys`,
      note: "each bar as a share of its target (2 s, 100 MB)",
      axisMin: 1,
      target: { value: 1, label: "target" },
      bars: [
        { label: "first get, cold (share of 2 s)", value: o.cold.firstGetMs.median / 2e3, text: `${f(o.cold.firstGetMs.median / 1e3, 2)} s`, ours: true },
        ...(o.warm ? [{ label: "first get, warm (share of 2 s)", value: o.warm.firstGetMs.median / 2e3, text: `${f(o.warm.firstGetMs.median / 1e3, 2)} s`, ours: true }] : []),
        { label: "resident, cold (share of 100 MB)", value: o.cold.rssMB.median / 100, text: `${f(o.cold.rssMB.median)} MB`, ours: true },
      ],
    });
  }
  if (r.encrypted?.measured) {
    const e = r.encrypted;
    out.push({
      title: "6. Encrypted against unencrypted — sequential put, median",
      note: "shorter is better",
      bars: [
        { label: "unencrypted room", value: e.unencrypted.putMs.median, text: `${f(e.unencrypted.putMs.median)} ms`, ours: true },
        { label: "encrypted room", value: e.encrypted.putMs.median, text: `${f(e.encrypted.putMs.median)} ms`, ours: true },
      ],
    });
  }
  if (r.footprint) {
    const fp = r.footprint;
    out.push({
      title: "7. Production dependencies on disk",
      note: "npm install --omit=dev; shorter is better",
      target: { value: 15, label: "target 15 MB" },
      bars: [
        { label: "mxdb", value: fp.mxdb.diskMB, text: `${f(fp.mxdb.diskMB)} MB`, ours: true },
        ...fp.others.map((x) => ({ label: x.package, value: x.diskMB, text: `${f(x.diskMB)} MB` })),
      ],
    });
  }
  return out;
}

export function renderSvg(r: BenchResults): string {
  const ps = panels(r);
  const parts: string[] = [];
  let y = 56;
  for (const p of ps) {
    parts.push(`<text x="20" y="${y}" class="title">${esc(p.title)}</text><text x="20" y="${y + 15}" class="note">${esc(p.note)}</text>`);
    y += 24;
    const top = y;
    const values = [...p.bars.map((b) => b.value), ...(p.target ? [p.target.value] : [])];
    const max = Math.max(...values, 1e-9);
    const min = Math.min(...values.filter((v) => v > 0), max);
    // Log panels span a decade below the smallest bar to the largest.
    const lo = p.log ? Math.log10(min) - 1 : 0;
    const hi = p.log ? Math.log10(max) : Math.max(max, p.axisMin ?? 0);
    const scale = (v: number) => (p.log ? ((Math.log10(Math.max(v, 1e-12)) - lo) / (hi - lo || 1)) * BAR_W : (v / (hi || 1)) * BAR_W);
    const rows: string[] = [];
    for (const b of p.bars) {
      const w = Math.max(2, Math.min(BAR_W, scale(b.value)));
      rows.push(
        `<text x="${LABEL_W - 8}" y="${y + 16}" class="label" text-anchor="end">${esc(b.label)}</text>` +
          `<rect x="${LABEL_W}" y="${y + 3}" width="${w.toFixed(1)}" height="${ROW_H - 8}" class="${b.ours ? "ours" : "them"}"/>` +
          `<text x="${(LABEL_W + w + 6).toFixed(1)}" y="${y + 16}" class="value">${esc(b.text)}</text>`,
      );
      y += ROW_H;
    }
    if (p.target) {
      // Under the bars and their values, so the numbers stay readable.
      const x = (LABEL_W + Math.min(BAR_W, scale(p.target.value))).toFixed(1);
      parts.push(`<line x1="${x}" y1="${top}" x2="${x}" y2="${y + 2}" class="target"/><text x="${x}" y="${y + 13}" class="tlabel" text-anchor="middle">${esc(p.target.label)}</text>`);
      y += 10;
    }
    parts.push(...rows);
    y += 30;
  }
  const h = y;
  const m = r.meta;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${h}" viewBox="0 0 ${W} ${h}" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif">`,
    "<style>.title{font-size:14px;font-weight:600;fill:#222}.note{font-size:11px;fill:#777}.label{font-size:12px;fill:#333}.value{font-size:12px;fill:#111;paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}.ours{fill:#2f7d4f}.them{fill:#9aa5b1}.head{font-size:16px;font-weight:700;fill:#111}.target{stroke:#c0392b;stroke-width:1.5;stroke-dasharray:4 3}.tlabel{font-size:10px;fill:#c0392b;paint-order:stroke;stroke:#fff;stroke-width:3px}.sub{font-size:11px;fill:#666}</style>",
    `<rect width="${W}" height="${h}" fill="#fff"/>`,
    `<text x="20" y="24" class="head">mxdb vs opsdroid vs raw HTTP on Synapse ${esc(m.synapse || "?")}</text>`,
    `<text x="20" y="40" class="sub">${esc(`${m.date.slice(0, 10)} · ${m.cpus} · Node ${m.node}${m.size === "quick" ? " · QUICK RUN (small sizes)" : ""} · green = mxdb`)}</text>`,
    ...parts,
    "</svg>",
    "",
  ].join("\n");
}
