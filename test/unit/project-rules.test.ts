/**
 * The project's structural rules, checked on every run (docs/ARCHITECTURE.md "The layers";
 * docs/STYLE.md "One file per endpoint", "One spec version for every link", "Requests are values"):
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

/** The project's own documents; a citation of any of them, with or without `docs/`, must resolve. */
const DOC_NAMES = ["PRODUCT", "OPSDROID", "PROTOCOL", "STYLE", "DURABILITY", "WIRE", "ARCHITECTURE", "SIMULATION", "RUNTIMES"];
/** Documents outside the repository: the docs must stand alone (built here so this file does not mention it). */
const OUTSIDE = ["..", "shared"].join("/");

/** A heading's text as a citation names it: no backticks or leading numbering, lower case. */
const headingKey = (text: string) => text.replace(/`/g, "").replace(/^(\d+|[A-Z])\.\s+/, "").trim().toLowerCase();

/** The headings of each document in `docs/`, by name (`PRODUCT`), as headingKey gives them. */
export function docHeadings(root: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const name of readdirSync(join(root, "docs")).filter((n) => n.endsWith(".md"))) {
    const text = readFileSync(join(root, "docs", name), "utf8");
    out.set(name.slice(0, -3), [...text.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)].map((m) => headingKey(m[1]!)));
  }
  return out;
}

/**
 * Every citation of a project document in `source` that does not resolve: `docs/<name>.md` (any name)
 * or a bare `NAME.md` (the project's document names) whose file is not in docs/; a quoted section
 * after it (`docs/PROTOCOL.md "libolm"`) that is no heading of that document; a numbered section
 * (`NAME.md §2`), which names nothing that lasts; and any mention of the documents outside the repo.
 */
export function unresolvedCitations(source: string, headings: ReadonlyMap<string, string[]>): string[] {
  const bad: string[] = [];
  const lineOf = (index: number) => source.slice(0, index).split("\n").length;
  const check = (m: RegExpMatchArray, name: string) => {
    const where = `line ${lineOf(m.index!)}: ${m[0].trim()}`;
    const sections = headings.get(name);
    if (!sections) return bad.push(`${where}: no docs/${name}.md`);
    if (m.groups?.numbered) return bad.push(`${where}: cite the section by its name, not its number`);
    const section = m.groups?.section;
    if (section !== undefined && !sections.some((h) => h.startsWith(headingKey(section)))) bad.push(`${where}: docs/${name}.md has no section "${section}"`);
  };
  const tail = String.raw`(?:,?[ \t]+"(?<section>[^"\n]+)"|(?<numbered>[ \t]*§))?`;
  // `docs/` at the start of a path or after `../`; another project's `…/latest/docs/x.md` is not ours.
  for (const m of source.matchAll(new RegExp(String.raw`(?<![\w-])(?<![\w-]/)docs/(?<name>[\w-]+)\.md\b` + tail, "g"))) check(m, m.groups!.name!);
  for (const m of source.matchAll(new RegExp(String.raw`(?<![\w/.-])(?<name>${DOC_NAMES.join("|")})\.md\b` + tail, "g"))) check(m, m.groups!.name!);
  let at = source.indexOf(OUTSIDE);
  while (at >= 0) {
    bad.push(`line ${lineOf(at)}: points outside the repository (${OUTSIDE})`);
    at = source.indexOf(OUTSIDE, at + 1);
  }
  return bad;
}

/** Files that may cite the docs: sources, scripts, tests, benchmarks and every Markdown file. */
function citingFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(ROOT, dir))) {
    const path = join(dir, name);
    if (name.startsWith(".") || name === "node_modules" || path === join("bench", "results", "raw")) continue;
    if (statSync(join(ROOT, path)).isDirectory()) out.push(...citingFiles(path));
    else if (/\.(ts|md|py|mjs)$/.test(name)) out.push(path);
  }
  return out;
}

test("every docs citation resolves: the file is in docs/, a quoted section is one of its headings", { timeout: 30_000 }, () => {
  const headings = docHeadings(ROOT);
  for (const name of DOC_NAMES) assert.ok(headings.has(name), `docs/${name}.md exists`);
  const paths = [...["src", "test", "bench", "scripts", "fixtures"].flatMap(citingFiles), ...files("docs", ".md"), "README.md"];
  const bad = paths.flatMap((path) => unresolvedCitations(read(path), headings).map((b) => `${path} ${b}`));
  assert.deepEqual(bad, []);
});

test("the citation check sees a missing document, a missing section, a § number and the outside docs", { timeout: 30_000 }, () => {
  const headings = new Map([["PROTOCOL", [headingKey("Olm sessions")]], ["STYLE", [headingKey("1. One file per endpoint")]]]);
  const ok = ['see docs/PROTOCOL.md "Olm sessions"', "docs/PROTOCOL.md, \"olm\"", 'STYLE.md "One file per endpoint"', "[style](../docs/STYLE.md)", "https://example.org/latest/docs/x.md", "src/db/README.md"];
  assert.deepEqual(unresolvedCitations(ok.join("\n"), headings), []);
  // Built from parts, so that this file's own citations (checked above) stay resolvable.
  const nope = ["docs", "NOPE.md"].join("/");
  const numbered = ["PROTOCOL.md", "§"].join(" ");
  const missing = ["docs/PROTOCOL.md", '"No such section"'].join(" ");
  const bad = [nope, missing, `${numbered}2`, "OPSDROID.md", `${OUTSIDE}/docs/PROTOCOL.md`].join("\n");
  assert.deepEqual(unresolvedCitations(bad, headings), [
    `line 1: ${nope}: no ${nope}`,
    `line 2: ${missing}: docs/PROTOCOL.md has no section "No such section"`,
    `line 3: ${numbered}: cite the section by its name, not its number`,
    "line 4: OPSDROID.md: no docs/OPSDROID.md",
    `line 5: points outside the repository (${OUTSIDE})`,
  ]);
});
