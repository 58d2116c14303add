/**
 * `npm test`: unit tests, then (when included) integration tests against ONE real Synapse for the
 * whole run. Synapse is installed once into the git-ignored .venv/synapse, started on loopback with
 * its stock configuration and default rate limits (but the per-address login limit: every test
 * client shares 127.0.0.1), described to the test processes in MXDB_TEST_HOMESERVER (JSON), and
 * stopped at the end, on failure and on Ctrl-C.
 *
 * Second sync path: integration files whose first lines hold the marker `mxdb-test: msc4222-too`
 * run again afterwards against a second Synapse with MSC4222 on (MXDB_TEST_MSC4222=1).
 * Second implementation: files marked `mxdb-test: dendrite-too` run again against a stock Dendrite
 * (MXDB_TEST_DENDRITE=1; built once with `go install` into .venv/dendrite, src/homeserver/dendrite.ts; a
 * missing build starts with the run, at low priority, so it overlaps the Synapse runs).
 * PostgreSQL: files marked `mxdb-test: postgres-too` run once more against a Synapse on PostgreSQL
 * (MXDB_TEST_DATABASE=postgres; files that start Synapses of their own start them on PostgreSQL too).
 *
 *   npm test                          all of test/unit and test/integration
 *   npm test -- --unit                unit tests only (no Synapse)
 *   npm test -- --integration         integration tests only
 *   npm test -- test/unit/x.test.ts   just these files
 *   npm test -- --no-msc4222          skip the MSC4222 second run
 *   npm test -- --no-dendrite         skip the Dendrite run
 *   npm test -- --dendrite FILES      the integration files on Dendrite only (no Synapse runs)
 *   npm test -- --no-postgres         skip the PostgreSQL run of the marked files
 *   npm test -- --postgres            every selected integration file on PostgreSQL (no second runs)
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, sep } from "node:path";
import { ensureDendrite } from "../src/homeserver/dendrite.js";
import { Homeserver } from "../src/homeserver/synapse.js";
import { projectRoot } from "../src/homeserver/venv.js";
import { TEST_DATABASE_ENV, TEST_DENDRITE_ENV, TEST_HOMESERVER_ENV, TEST_MSC4222_ENV, TEST_RATE_LIMITS } from "../test/helpers/homeserver.js";

/** Backstop for a test without its own timeout (the rules test requires one on every test). */
const TEST_TIMEOUT_MS = 300_000;
/** In a test file's first lines: run it on the MSC4222 sync path too. */
const MSC4222_MARKER = "mxdb-test: msc4222-too";
/** In a test file's first lines: run it on Dendrite too. */
const DENDRITE_MARKER = "mxdb-test: dendrite-too";
/** In a test file's first lines: run it against a Synapse on PostgreSQL too. */
const POSTGRES_MARKER = "mxdb-test: postgres-too";
const FLAGS = ["--unit", "--integration", "--no-msc4222", "--no-postgres", "--postgres", "--no-dendrite", "--dendrite"];

const root = projectRoot();
const started = Date.now();

/** Node 20's `node --test` does not expand `**`, so find the files ourselves. */
function findTests(dir: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const name of entries.sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...findTests(path));
    else if (name.endsWith(".test.ts")) out.push(path);
  }
  return out;
}

function selectFiles(args: string[]): { files: string[]; integration: number; msc4222: string[]; postgres: string[]; allPostgres: boolean; dendrite: string[] } {
  const flags = new Set(args.filter((a) => a.startsWith("--")));
  for (const flag of flags) if (!FLAGS.includes(flag)) throw new Error(`unknown option ${flag} (use ${FLAGS.join(", ")} or file paths)`);
  const allPostgres = flags.has("--postgres");
  // The Dendrite harness runs SQLite only (docs/HOMESERVERS.md "Dendrite").
  if (allPostgres && flags.has("--dendrite")) throw new Error("--dendrite and --postgres together: the Dendrite harness runs SQLite only");
  for (const f of ["--no-msc4222", "--no-postgres", "--postgres", "--no-dendrite", "--dendrite"]) flags.delete(f);
  const explicit = args.filter((a) => !a.startsWith("--")).map((a) => resolve(a));
  const unitDir = join(root, "test", "unit");
  const integrationDir = join(root, "test", "integration");
  let files: string[];
  if (explicit.length > 0) files = explicit;
  else {
    const both = flags.size === 0;
    files = [...(both || flags.has("--unit") ? findTests(unitDir) : []), ...(both || flags.has("--integration") ? findTests(integrationDir) : [])];
  }
  const integrationFiles = files.filter((f) => f.startsWith(integrationDir + sep));
  if (args.includes("--dendrite")) return { files: [], integration: 0, msc4222: [], postgres: [], allPostgres: false, dendrite: integrationFiles };
  // --postgres: the main run is on PostgreSQL already; no second runs.
  const msc4222 = args.includes("--no-msc4222") || allPostgres ? [] : integrationFiles.filter((f) => marked(f, MSC4222_MARKER));
  const postgres = args.includes("--no-postgres") || allPostgres ? [] : integrationFiles.filter((f) => marked(f, POSTGRES_MARKER));
  const dendrite = args.includes("--no-dendrite") || allPostgres ? [] : integrationFiles.filter((f) => marked(f, DENDRITE_MARKER));
  return { files, integration: integrationFiles.length, msc4222, postgres, allPostgres, dendrite };
}

function marked(file: string, marker: string): boolean {
  return readFileSync(file, "utf8").slice(0, 2_000).includes(marker);
}

/** Counts from the TAP copy of the run (the spec reporter goes to the console). */
function counts(tapFile: string): { pass: number; fail: number } | undefined {
  try {
    const text = readFileSync(tapFile, "utf8");
    const pass = /^# pass (\d+)$/m.exec(text);
    const fail = /^# fail (\d+)$/m.exec(text);
    return pass && fail ? { pass: Number(pass[1]), fail: Number(fail[1]) } : undefined;
  } catch {
    return undefined;
  }
}

interface RunResult {
  code: number;
  pass: number;
  fail: number;
}

/** One `node --test` over `files`, with `env`; counts from its TAP copy. */
async function runNodeTest(files: string[], env: NodeJS.ProcessEnv, tapFile: string, setChild: (c: ChildProcess) => void): Promise<RunResult> {
  const args = ["--import", "tsx", "--test", "--test-concurrency=2", `--test-timeout=${TEST_TIMEOUT_MS}`, "--test-reporter=spec", "--test-reporter-destination=stdout", "--test-reporter=tap", `--test-reporter-destination=${tapFile}`, ...files];
  const code = await new Promise<number>((done) => {
    const child = spawn(process.execPath, args, { cwd: root, stdio: "inherit", env });
    setChild(child);
    child.on("exit", (c, s) => done(c ?? (s ? 128 : 1)));
    child.on("error", (e) => {
      console.error(`mxdb test: cannot run node --test: ${e.message}`);
      done(1);
    });
  });
  const c = counts(tapFile);
  return { code, pass: c?.pass ?? 0, fail: c?.fail ?? (code === 0 ? 0 : 1) };
}

async function main(): Promise<number> {
  const { files, integration, msc4222, postgres, allPostgres, dendrite } = selectFiles(process.argv.slice(2));
  if (files.length === 0 && dendrite.length === 0) {
    console.error("mxdb test: no test files found");
    return 1;
  }
  const homeservers: Homeserver[] = [];
  let child: ChildProcess | undefined;
  const setChild = (c: ChildProcess) => (child = c);
  const scratch = mkdtempSync(join(tmpdir(), "mxdb-test-run-"));
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    console.error(`\nmxdb test: ${signal}, stopping tests and Synapse ...`);
    child?.kill(signal);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const progress = (line: string) => console.log(`mxdb test: ${line}`);
  // Dendrite's first build (go install, minutes on a fresh machine) starts now, at low CPU priority,
  // so it overlaps the Synapse runs instead of following them; its failure is reported by the Dendrite run.
  const dendriteBuild = dendrite.length > 0 ? ensureDendrite(progress).then(() => undefined, (e: unknown) => e) : undefined;
  try {
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env[TEST_MSC4222_ENV];
    delete env[TEST_DENDRITE_ENV];
    delete env[TEST_DATABASE_ENV];
    if (allPostgres) env[TEST_DATABASE_ENV] = "postgres";
    let version = "";
    if (integration > 0) {
      const hs = await Homeserver.start({ rateLimits: TEST_RATE_LIMITS, database: allPostgres ? "postgres" : "sqlite", onProgress: progress });
      homeservers.push(hs);
      version = hs.info.version;
      console.log(`mxdb test: integration tests run against stock Synapse ${version} on ${hs.info.database} at ${hs.info.baseUrl} (default rate limits but rc_login.address)`);
      env[TEST_HOMESERVER_ENV] = JSON.stringify(hs.info);
    }
    const runs: RunResult[] = [];
    if (files.length > 0) {
      console.log(`mxdb test: ${files.length - integration} unit and ${integration} integration test files`);
      runs.push(await runNodeTest(files, env, join(scratch, "run.tap"), setChild));
    }
    if (msc4222.length > 0 && !interrupted) {
      // The second sync path: the opted-in files again, against a fresh Synapse with MSC4222 on.
      await homeservers.pop()?.stop();
      const hs = await Homeserver.start({ rateLimits: TEST_RATE_LIMITS, msc4222: true, onProgress: progress });
      homeservers.push(hs);
      console.log(`mxdb test: ${msc4222.length} integration files again with MSC4222 on (${hs.info.baseUrl})`);
      runs.push(await runNodeTest(msc4222, { ...env, [TEST_HOMESERVER_ENV]: JSON.stringify(hs.info), [TEST_MSC4222_ENV]: "1" }, join(scratch, "msc4222.tap"), setChild));
    }
    if (postgres.length > 0 && !interrupted) {
      // Synapse on PostgreSQL, as production runs it: the opted-in files again (the classic sync path, stock config).
      await homeservers.pop()?.stop();
      const hs = await Homeserver.start({ rateLimits: TEST_RATE_LIMITS, database: "postgres", onProgress: progress });
      homeservers.push(hs);
      console.log(`mxdb test: ${postgres.length} integration files again on PostgreSQL ${hs.info.postgres?.version ?? ""} (${hs.info.baseUrl})`);
      runs.push(await runNodeTest(postgres, { ...env, [TEST_HOMESERVER_ENV]: JSON.stringify(hs.info), [TEST_DATABASE_ENV]: "postgres" }, join(scratch, "postgres.tap"), setChild));
    }
    if (dendrite.length > 0 && !interrupted) {
      // The second implementation: the opted-in files again, against a stock Dendrite (classic sync: it has no state_after).
      await homeservers.pop()?.stop();
      const buildError = await dendriteBuild;
      if (buildError !== undefined) throw buildError;
      const hs = await Homeserver.start({ implementation: "dendrite", rateLimits: TEST_RATE_LIMITS, onProgress: progress });
      homeservers.push(hs);
      console.log(`mxdb test: ${dendrite.length} integration files on Dendrite ${hs.info.version} (${hs.info.baseUrl})`);
      runs.push(await runNodeTest(dendrite, { ...env, [TEST_HOMESERVER_ENV]: JSON.stringify(hs.info), [TEST_DENDRITE_ENV]: "1" }, join(scratch, "dendrite.tap"), setChild));
    }
    const code = runs.find((r) => r.code !== 0)?.code ?? 0;
    const pass = runs.reduce((n, r) => n + r.pass, 0);
    const fail = runs.reduce((n, r) => n + r.fail, 0);
    console.log(
      `mxdb test: ${files.length} files${msc4222.length > 0 ? ` (+${msc4222.length} on MSC4222)` : ""}${postgres.length > 0 ? ` (+${postgres.length} on PostgreSQL)` : ""}${dendrite.length > 0 ? ` (+${dendrite.length} on Dendrite)` : ""} in ${((Date.now() - started) / 1000).toFixed(1)} s, exit code ${code}${version ? ` (Synapse ${version})` : ""}`,
    );
    console.log(`mxdb: ${pass} passed, ${fail} failed`);
    return code;
  } finally {
    for (const hs of homeservers) await hs.stop();
    rmSync(scratch, { recursive: true, force: true });
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`mxdb test: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
