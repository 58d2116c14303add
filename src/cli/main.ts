#!/usr/bin/env node
/**
 * `mxdb`: the command line (docs/PRODUCT.md "The command line"). Finds the command, parses its options
 * (./args.ts), runs it, and turns any failure into one line on stderr and an exit status
 * (./errors.ts: 1 runtime, 2 usage, 3 not found).
 */
import { helpText, parse, type Command } from "./args.js";
import { describeError, EXIT, exitCodeOf, UsageError } from "./errors.js";
import { homeserverCommands } from "./homeserver-commands.js";
import { memoryCommands } from "./memory-commands.js";
import { historyCommands } from "./history-commands.js";
import { transferCommands } from "./transfer-commands.js";
import { sessionCommands } from "./session-commands.js";
import { traceCommand } from "./trace-command.js";
import { recoveryCommands } from "./recovery-commands.js";
import { cryptoCommands } from "./crypto-commands.js";

export const COMMANDS: Command[] = [...memoryCommands, ...historyCommands, ...transferCommands, ...sessionCommands, ...recoveryCommands, ...cryptoCommands, ...homeserverCommands, traceCommand];

const BRIEF: Record<string, string> = {
  put: "store a JSON value under KEY",
  get: "print the value of KEY",
  delete: "remove keys",
  keys: "list the keys",
  dump: "print the whole memory as JSON",
  watch: "print changes as they happen, until Ctrl-C",
  login: "log in with a password and save the session",
  logout: "log the saved session out",
  whoami: "who and where the commands act",
  "homeserver start": "start a throwaway local Synapse (the default homeserver)",
  "homeserver stop": "stop it and delete its data",
  "homeserver status": "is it running?",
  trace: "pretty-print a wire trace written by --trace",
  "media list": "values kept in the media repository",
  history: "every version of KEY, newest first",
  restore: "write back the value KEY had at a time or event",
  export: "the room's memory as JSON lines, with provenance",
  import: "put an export's keys into a room (resumable)",
  audit: "who changed which keys when, with flags",
  "recovery create": "make a recovery key and back up every room key",
  "recovery restore": "restore room keys with the recovery key (from MXDB_RECOVERY_KEY or stdin)",
  "recovery status": "secret storage, the key backup, what waits to upload",
  "crypto bootstrap": "make and publish the cross-signing keys, sign this device",
  "crypto status": "who holds the cross-signing keys, which devices they sign",
  "crypto sign-device": "cross-sign another device of this account",
};

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.usage.split(" [")[0]!.length)) + 2;
  const lines = [
    "usage: mxdb COMMAND [options]   (mxdb COMMAND --help for its options)",
    "",
    "A key-value memory in Matrix room state, compatible with opsdroid's Matrix database.",
    "",
    "commands:",
    ...COMMANDS.map((c) => `  ${c.usage.split(" [")[0]!.padEnd(width)}${BRIEF[c.name] ?? ""}`),
    "",
    "Settings come from --config FILE / --homeserver, else the saved login (mxdb login), else the local",
    "homeserver (mxdb homeserver start). Files live in $MXDB_HOME (default ./.mxdb).",
  ];
  return `${lines.join("\n")}\n`;
}

/** The command named by the first one or two words of `argv`, and the rest. */
function find(argv: string[]): { command: Command; rest: string[] } | undefined {
  const two = argv.slice(0, 2).join(" ");
  const byTwo = COMMANDS.find((c) => c.name === two);
  if (byTwo) return { command: byTwo, rest: argv.slice(2) };
  const byOne = COMMANDS.find((c) => c.name === argv[0]);
  return byOne ? { command: byOne, rest: argv.slice(1) } : undefined;
}

export async function main(argv: string[]): Promise<number> {
  if (argv.length === 0 || argv[0] === "--help" || argv[0] === "-h" || argv[0] === "help") {
    process.stdout.write(usage());
    return argv.length === 0 ? EXIT.usage : EXIT.ok;
  }
  try {
    const found = find(argv);
    if (!found) {
      if (argv[0] === "recovery") throw new UsageError(`recovery needs create, restore or status${argv[1] ? `, not ${JSON.stringify(argv[1])}` : ""}`, "recovery create");
      if (argv[0] === "crypto") throw new UsageError(`crypto needs bootstrap, status or sign-device${argv[1] ? `, not ${JSON.stringify(argv[1])}` : ""}`, "crypto bootstrap");
      if (argv[0] === "homeserver") throw new UsageError(`homeserver needs start, stop or status${argv[1] ? `, not ${JSON.stringify(argv[1])}` : ""}`, "homeserver start");
      throw new UsageError(`unknown command ${JSON.stringify(argv[0])}`);
    }
    const parsed = parse(found.command, found.rest);
    if (parsed === "help") {
      process.stdout.write(helpText(found.command));
      return EXIT.ok;
    }
    return await found.command.run(parsed);
  } catch (error) {
    process.stderr.write(`mxdb: ${describeError(error)}\n`);
    if (process.env.MXDB_DEBUG && error instanceof Error) process.stderr.write(`${error.stack}\n`);
    return exitCodeOf(error);
  }
}

// Exit explicitly: keep-alive sockets and the detached homeserver's handles must not keep us alive.
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`mxdb: ${String(error)}\n`);
    process.exit(EXIT.runtime);
  },
);
