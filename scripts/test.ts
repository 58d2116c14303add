/**
 * `npm test`: unit tests, then (when included) integration tests against ONE real Synapse for the
 * whole run. Synapse is installed once into the git-ignored .venv/synapse, started on loopback with
 * rate limits lifted, described to the test processes in MXDB_TEST_HOMESERVER (JSON), and stopped
 * at the end, on failure and on Ctrl-C.
 *
 *   npm test                          all of test/unit and test/integration
 *   npm test -- --unit                unit tests only (no Synapse)
 *   npm test -- --integration         integration tests only
 *   npm test -- test/unit/x.test.ts   just these files
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, sep } from "node:path";
import { Homeserver } from "../src/homeserver/synapse.js";
import { projectRoot } from "../src/homeserver/venv.js";
import { TEST_HOMESERVER_ENV } from "../test/helpers/homeserver.js";

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

function selectFiles(args: string[]): { files: string[]; integration: number } {
  const flags = new Set(args.filter((a) => a.startsWith("--")));
  for (const flag of flags) if (flag !== "--unit" && flag !== "--integration") throw new Error(`unknown option ${flag} (use --unit, --integration or file paths)`);
  const explicit = args.filter((a) => !a.startsWith("--")).map((a) => resolve(a));
  const unitDir = join(root, "test", "unit");
  const integrationDir = join(root, "test", "integration");
  let files: string[];
  if (explicit.length > 0) files = explicit;
  else {
    const both = flags.size === 0;
    files = [...(both || flags.has("--unit") ? findTests(unitDir) : []), ...(both || flags.has("--integration") ? findTests(integrationDir) : [])];
  }
  const integration = files.filter((f) => f.startsWith(integrationDir + sep)).length;
  return { files, integration };
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

async function main(): Promise<number> {
  const { files, integration } = selectFiles(process.argv.slice(2));
  if (files.length === 0) {
    console.error("mxdb test: no test files found");
    return 1;
  }
  let hs: Homeserver | undefined;
  let child: ChildProcess | undefined;
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
  try {
    const env: NodeJS.ProcessEnv = { ...process.env };
    if (integration > 0) {
      hs = await Homeserver.start({ rateLimits: "lifted", onProgress: (line) => console.log(`mxdb test: ${line}`) });
      console.log(`mxdb test: integration tests run against Synapse ${hs.info.version} at ${hs.info.baseUrl}`);
      env[TEST_HOMESERVER_ENV] = JSON.stringify(hs.info);
    }
    const tapFile = join(scratch, "run.tap");
    const args = ["--import", "tsx", "--test", "--test-concurrency=2", "--test-reporter=spec", "--test-reporter-destination=stdout", "--test-reporter=tap", `--test-reporter-destination=${tapFile}`, ...files];
    console.log(`mxdb test: ${files.length - integration} unit and ${integration} integration test files`);
    const code = await new Promise<number>((done) => {
      child = spawn(process.execPath, args, { cwd: root, stdio: "inherit", env });
      child.on("exit", (c, s) => done(c ?? (s ? 128 : 1)));
      child.on("error", (e) => {
        console.error(`mxdb test: cannot run node --test: ${e.message}`);
        done(1);
      });
    });
    const c = counts(tapFile);
    console.log(`mxdb test: ${files.length} files in ${((Date.now() - started) / 1000).toFixed(1)} s, exit code ${code}${hs ? ` (Synapse ${hs.info.version})` : ""}`);
    if (c) console.log(`mxdb: ${c.pass} passed, ${c.fail} failed`);
    return code;
  } finally {
    await hs?.stop();
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
