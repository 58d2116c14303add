/**
 * The project's structural rules, checked on every run (PRODUCT.md "Layers", STYLE.md §1–3):
 * one spec version in every link, src/state and src/crypto free of I/O, only src/http on the
 * network, each endpoint file opening with its METHOD /path and spec link, files kept small.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { SPEC_VERSION } from "../../src/http/spec.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

function files(dir: string, ext = ".ts"): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(ROOT, dir))) {
    const path = join(dir, name);
    if (statSync(join(ROOT, path)).isDirectory()) out.push(...files(path, ext));
    else if (name.endsWith(ext)) out.push(path);
  }
  return out;
}

const read = (path: string) => readFileSync(join(ROOT, path), "utf8");
const imports = (source: string) => [...source.matchAll(/^\s*(?:import|export)[^'"]*?from\s+["']([^"']+)["']/gm)].map((m) => m[1]!);

test(`every spec link names ${SPEC_VERSION}, never another version or /latest/`, () => {
  const bad: string[] = [];
  for (const path of [...files("src"), ...files("src", ".md"), ...files("docs", ".md")]) {
    for (const m of read(path).matchAll(/spec\.matrix\.org\/([^/\s"'`)]+)/g)) {
      if (m[1] !== SPEC_VERSION && m[1] !== "${SPEC_VERSION}") bad.push(`${path}: ${m[0]}`);
    }
  }
  assert.deepEqual(bad, []);
});

test("src/state and src/crypto do no I/O and import no other layer", () => {
  const bad: string[] = [];
  for (const path of [...files("src/state"), ...files("src/crypto")]) {
    for (const spec of imports(read(path))) {
      const io = /^(node:)?(fs|fs\/promises|net|http|https|http2|dgram|dns|tls|child_process|worker_threads)$/.test(spec) || spec === "undici";
      const layer = path.split("/")[1];
      const target = spec.startsWith(".") ? relative(ROOT, join(ROOT, dirname(path), spec)) : "";
      const otherLayer = target.startsWith("src/") && !target.startsWith(`src/${layer}/`);
      if (io || otherLayer) bad.push(`${path} imports ${spec}`);
    }
  }
  assert.deepEqual(bad, []);
});

test("only src/http talks to the network", () => {
  const bad: string[] = [];
  for (const path of files("src")) {
    if (path.startsWith("src/http/")) continue;
    for (const spec of imports(read(path))) {
      if (spec === "undici" || /^(node:)?(http|https|http2|net|tls|dgram)$/.test(spec)) bad.push(`${path} imports ${spec}`);
    }
    if (/\bfetch\(/.test(read(path))) bad.push(`${path} calls fetch`);
  }
  // The harness's free-port probe binds a loopback socket to find a port; it sends nothing.
  assert.deepEqual(bad.filter((b) => !/^src\/homeserver\/process\.ts imports (node:)?net$/.test(b)), []);
});

test("each endpoint file opens with its METHOD /path and its spec link", () => {
  const bad: string[] = [];
  for (const path of files("src/http/endpoints")) {
    const [first, second] = read(path).split("\n");
    if (path.endsWith("schemas.ts") || path.endsWith("docs.ts") || path.endsWith("device-keys.ts")) continue;
    if (!/^\/\/ (GET|PUT|POST|DELETE)(\|(GET|PUT|POST|DELETE))* \//.test(first ?? "")) bad.push(`${path}: line 1 is ${JSON.stringify(first)}`);
    if (!/^\/\/ https:\/\//.test(second ?? "")) bad.push(`${path}: line 2 is ${JSON.stringify(second)}`);
  }
  assert.deepEqual(bad, []);
});

test("source files stay small (under 450 lines)", () => {
  const big = files("src")
    .map((p) => [p, read(p).split("\n").length] as const)
    .filter(([, n]) => n > 450)
    .map(([p, n]) => `${relative(ROOT, join(ROOT, p))}: ${n} lines`);
  assert.deepEqual(big, []);
});
