/**
 * The portable core's rules (docs/RUNTIMES.md): what `import { Memory } from "mxdb"` loads has no
 * Node-only import and uses no Node global, and no source file takes part in an import cycle.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

function files(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(ROOT, dir))) {
    const path = join(dir, name);
    if (statSync(join(ROOT, path)).isDirectory()) out.push(...files(path));
    else if (name.endsWith(".ts")) out.push(path);
  }
  return out;
}

/** Source without comments, so a comment that names Buffer or a module is not a use. */
export function code(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, "")).replace(/(^|[^:"'`\\])\/\/.*$/gm, "$1");
}

/** The modules a file loads at run time: value imports and re-exports, and import("literal"). Type-only imports are erased. */
export function runtimeImports(source: string): string[] {
  const text = code(source);
  const out: string[] = [];
  for (const m of text.matchAll(/^\s*(import|export)\s+(type\s+)?([^'"]*?)\s*from\s+["']([^"']+)["']/gm)) {
    const names = /^\{([^}]*)\}$/.exec(m[3]!.trim())?.[1]?.split(",").map((n) => n.trim()).filter(Boolean);
    if (m[2] || (names && names.length > 0 && names.every((n) => n.startsWith("type ")))) continue;
    out.push(m[4]!);
  }
  for (const m of text.matchAll(/^\s*import\s+["']([^"']+)["']/gm)) out.push(m[1]!);
  for (const m of text.matchAll(/(?<![\w.])(?<!typeof\s+)import\(\s*["']([^"']+)["']\s*\)/g)) out.push(m[1]!);
  return out;
}

function resolveLocal(from: string, spec: string): string | undefined {
  if (!spec.startsWith(".")) return undefined;
  const path = relative(ROOT, join(ROOT, dirname(from), spec)).replace(/\.js$/, ".ts");
  return existsSync(join(ROOT, path)) ? path : undefined;
}

/** Every source file `entry` loads at run time, itself included. */
function closure(entry: string): Set<string> {
  const seen = new Set<string>();
  const queue = [entry];
  while (queue.length > 0) {
    const path = queue.pop()!;
    if (seen.has(path)) continue;
    seen.add(path);
    for (const spec of runtimeImports(readFileSync(join(ROOT, path), "utf8"))) {
      const target = resolveLocal(path, spec);
      if (target) queue.push(target);
    }
  }
  return seen;
}

const NODE_ONLY_IMPORT = /^(node:|undici$|(fs|fs\/promises|path|os|crypto|net|http|https|tls|child_process|worker_threads|async_hooks|url|stream|events|util|buffer)$)/;
// `process` only as the global object (process.x, process?.x, process[x]): a method may be called process().
const NODE_GLOBAL = /(?<![\w.$])(?:(Buffer|setImmediate|require|__dirname|__filename)\b(?!\??\s*:)|(process)(?=\??\.|\[))/;

export function nodeOnlyUses(path: string, source: string): string[] {
  const bad = runtimeImports(source).filter((s) => NODE_ONLY_IMPORT.test(s)).map((s) => `${path} imports ${s}`);
  code(source)
    .split("\n")
    .forEach((line, i) => {
      // A string literal may name them (an error message); strip strings before looking.
      const m = NODE_GLOBAL.exec(line.replace(/(["'`])(?:\\.|(?!\1).)*\1/g, '""'));
      if (m) bad.push(`${path}:${i + 1} uses ${m[1] ?? m[2]}`);
    });
  return bad;
}

test("the core (everything src/index.ts loads, encryption included) has no Node-only import and no Node global", { timeout: 30_000 }, () => {
  const core = [...closure("src/index.ts")].sort();
  // The closure must reach the layers it is meant to cover, or this test checks nothing.
  for (const must of ["src/db/memory.ts", "src/db/open.ts", "src/db/encryption.ts", "src/http/transport.ts", "src/crypto/olm/backend.ts", "src/store/store.ts"]) assert.ok(core.includes(must), must);
  for (const nodeOnly of ["src/http/undici-transport.ts", "src/store/file-store.ts", "src/http/trace-file.ts", "src/db/key-file.ts"]) assert.ok(!core.includes(nodeOnly), nodeOnly);
  const bad = core.flatMap((path) => nodeOnlyUses(path, readFileSync(join(ROOT, path), "utf8")));
  assert.deepEqual(bad, []);
});

test("the core check sees Node-only imports and globals, and not type imports, comments or strings", { timeout: 30_000 }, () => {
  const src = [
    'import { readFile } from "node:fs/promises";',
    'import type { Agent } from "undici";',
    'import { type X, type Y } from "undici";',
    'export { a } from "./a.js";',
    'const m = await import("undici");',
    'type F = typeof import("node:fs");',
    "// Buffer in a comment",
    'const s = "process.env in a string";',
    "const b = Buffer.from(x);",
    "setImmediate(f);",
    "const v = g.process?.versions;",
    "process(): void {}",
    "if (process.env.X) f();",
  ].join("\n");
  assert.deepEqual(runtimeImports(src), ["node:fs/promises", "./a.js", "undici"]);
  assert.deepEqual(nodeOnlyUses("x.ts", src), ["x.ts imports node:fs/promises", "x.ts imports undici", "x.ts:9 uses Buffer", "x.ts:10 uses setImmediate", "x.ts:13 uses process"]);
});

/** Import cycles among `paths`, as lists of files (each cycle once). */
export function cycles(graph: Map<string, string[]>): string[][] {
  const found = new Map<string, string[]>();
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (node: string) => {
    state.set(node, "open");
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === "open") {
        const cycle = stack.slice(stack.indexOf(next));
        found.set([...cycle].sort().join(" "), cycle);
      } else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, "done");
  };
  for (const node of [...graph.keys()].sort()) if (!state.has(node)) visit(node);
  return [...found.values()];
}

test("no import cycles in src (type-only imports aside: they are erased)", { timeout: 30_000 }, () => {
  const graph = new Map<string, string[]>();
  for (const path of files("src")) {
    graph.set(path, runtimeImports(readFileSync(join(ROOT, path), "utf8")).flatMap((s) => resolveLocal(path, s) ?? []));
  }
  assert.deepEqual(cycles(graph).map((c) => c.join(" -> ")), []);
  assert.deepEqual(cycles(new Map([["a", ["b"]], ["b", ["c"]], ["c", ["a"]], ["d", ["a"]]])), [["a", "b", "c"]]);
});
