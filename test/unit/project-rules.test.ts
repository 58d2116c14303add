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

test(`every spec link names ${SPEC_VERSION}, never another version or /latest/`, { timeout: 30_000 }, () => {
  const bad: string[] = [];
  for (const path of [...files("src"), ...files("src", ".md"), ...files("docs", ".md")]) {
    for (const m of read(path).matchAll(/spec\.matrix\.org\/([^/\s"'`)]+)/g)) {
      if (m[1] !== SPEC_VERSION && m[1] !== "${SPEC_VERSION}") bad.push(`${path}: ${m[0]}`);
    }
  }
  assert.deepEqual(bad, []);
});

test("src/state and src/crypto do no I/O and import no other layer", { timeout: 30_000 }, () => {
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

test("only src/http talks to the network", { timeout: 30_000 }, () => {
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

test("each endpoint file opens with its METHOD /path and its spec link", { timeout: 30_000 }, () => {
  const bad: string[] = [];
  for (const path of files("src/http/endpoints")) {
    const [first, second] = read(path).split("\n");
    if (path.endsWith("schemas.ts") || path.endsWith("docs.ts") || path.endsWith("device-keys.ts")) continue;
    if (!/^\/\/ (GET|PUT|POST|DELETE)(\|(GET|PUT|POST|DELETE))* \//.test(first ?? "")) bad.push(`${path}: line 1 is ${JSON.stringify(first)}`);
    if (!/^\/\/ https:\/\//.test(second ?? "")) bad.push(`${path}: line 2 is ${JSON.stringify(second)}`);
  }
  assert.deepEqual(bad, []);
});

test("schemas use zod/mini, never classic zod (its locales are most of a browser bundle)", { timeout: 30_000 }, () => {
  const bad = files("src").filter((path) => imports(read(path)).some((spec) => spec === "zod" || (spec.startsWith("zod/") && spec !== "zod/mini")));
  assert.deepEqual(bad, []);
});

test("source files stay small (under 450 lines)", { timeout: 30_000 }, () => {
  const big = files("src")
    .map((p) => [p, read(p).split("\n").length] as const)
    .filter(([, n]) => n > 450)
    .map(([p, n]) => `${relative(ROOT, join(ROOT, p))}: ${n} lines`);
  assert.deepEqual(big, []);
});

/** Where each `test(`/`it(` call's first argument (a string literal) ends, or -1 when it is not a literal. */
function literalEnd(source: string, start: number): number {
  const quote = source[start];
  if (quote !== '"' && quote !== "'" && quote !== "`") return -1;
  let depth = 0;
  for (let i = start + 1; i < source.length; i++) {
    const c = source[i];
    if (c === "\\") i++;
    else if (quote === "`" && source.startsWith("${", i)) (depth++, i++);
    else if (depth > 0 && c === "}") depth--;
    else if (c === quote && depth === 0) return i + 1;
  }
  return -1;
}

/** Each `test("name", { timeout }, fn)` call has its own timeout, so a hang fails instead of stalling. */
export function testsWithoutTimeout(source: string): string[] {
  const bad: string[] = [];
  // Calls that open a line (comments and strings that mention test( are not calls).
  for (const m of source.matchAll(/^[ \t]*(test|it)\(\s*/gm)) {
    const line = source.slice(0, m.index).split("\n").length;
    const end = literalEnd(source, m.index + m[0].length);
    const rest = end < 0 ? "" : source.slice(end);
    const options = /^\s*,\s*(\{[^{}]*\})/.exec(rest)?.[1] ?? "";
    if (!/\btimeout\s*:/.test(options)) bad.push(`line ${line}: ${source.slice(m.index, m.index + 70).split("\n")[0]!.trim()}`);
  }
  return bad;
}

const TEST_FILES = () => files("test").filter((p) => p.endsWith(".test.ts"));

test("every test(...) / it(...) in test/**/*.test.ts passes an options object with a timeout", { timeout: 30_000 }, () => {
  const bad = TEST_FILES().flatMap((path) => testsWithoutTimeout(read(path)).map((b) => `${path} ${b}`));
  assert.deepEqual(bad, []);
});

test("the timeout check sees a missing timeout and accepts a present one", { timeout: 30_000 }, () => {
  assert.deepEqual(testsWithoutTimeout('test("a", { timeout: 5 }, () => {});\nit(`b ${x}`, { concurrency: 1, timeout: 9 }, async () => {});'), []);
  assert.deepEqual(testsWithoutTimeout('test("a", async () => {});\n/x/.test(y);\nit("b", { concurrency: 1 }, () => {});'), ['line 1: test("a", async () => {});', 'line 3: it("b", { concurrency: 1 }, () => {});']);
});

/** No test is switched off or singled out: `.only`, `test.skip`, `{ skip`, `todo`. */
export function disabledTests(source: string): string[] {
  const patterns = [/\.only\b/, /\b(test|it|describe)\.skip\b/, /\{\s*skip\b|,\s*skip\s*:/, /\btodo\b/i];
  return source.split("\n").flatMap((text, i) => (patterns.some((p) => p.test(text)) ? [`line ${i + 1}: ${text.trim()}`] : []));
}

test("no test file uses .only, test.skip, { skip } or todo", { timeout: 30_000 }, () => {
  const self = "test/unit/project-rules.test.ts"; // names the patterns it looks for
  const bad = TEST_FILES().filter((p) => p !== self).flatMap((path) => disabledTests(read(path)).map((b) => `${path} ${b}`));
  assert.deepEqual(bad, []);
  assert.equal(disabledTests('test.only("a", { timeout: 1 }, f);\ntest("b", { skip: true, timeout: 1 }, f);\ntest.todo("c");\nt.skip();').length, 3);
});
