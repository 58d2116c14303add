/**
 * Argument parsing for every command (node:util parseArgs, strict): each command declares its
 * options with a one-line description, and `--help` is generated from that declaration.
 */
import { parseArgs } from "node:util";
import { UsageError } from "./errors.js";

export interface OptionSpec {
  type: "string" | "boolean";
  short?: string;
  /** Shown in --help, e.g. "URL". */
  arg?: string;
  desc: string;
  multiple?: boolean;
}

export type OptionSpecs = Record<string, OptionSpec>;

export interface Command {
  /** e.g. "put" or "homeserver start". */
  name: string;
  usage: string;
  summary: string;
  /** Extra paragraphs for --help. */
  details?: string;
  options: OptionSpecs;
  run(parsed: Parsed): Promise<number>;
}

export interface Parsed {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

export const HELP: OptionSpecs = { help: { type: "boolean", short: "h", desc: "show this help" } };

/** Where the data is: shared by put/get/delete/keys/dump/watch (and login/whoami in part). */
export const CONNECTION: OptionSpecs = {
  homeserver: { type: "string", arg: "URL", desc: "homeserver base URL (default: the saved login, else the local homeserver)" },
  user: { type: "string", short: "u", arg: "MXID", desc: "user ID (@name:server) or localpart, to log in with --password" },
  password: { type: "string", arg: "PASSWORD", desc: "password (or set MXDB_PASSWORD)" },
  "access-token": { type: "string", arg: "TOKEN", desc: "access token instead of a password (or set MXDB_ACCESS_TOKEN)" },
  config: { type: "string", short: "c", arg: "FILE", desc: "opsdroid-style YAML or JSON configuration file" },
  trace: { type: "string", arg: "FILE", desc: "append every HTTP exchange to FILE as JSON lines (tokens redacted)" },
  json: { type: "boolean", desc: "machine-readable output" },
};

export const MEMORY: OptionSpecs = {
  room: { type: "string", short: "r", arg: "ROOM", desc: "room: a name from the config's rooms, #alias:server or !roomid" },
  "single-state-key": { type: "string", arg: "true|false|NAME", desc: "opsdroid's single_state_key (default true)" },
  encrypt: { type: "boolean", desc: "--encrypt / --no-encrypt: opsdroid's should_encrypt (default on)" },
};

export function parse(command: Command, argv: string[]): Parsed | "help" {
  const options: Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }> = {};
  for (const [name, o] of Object.entries({ ...command.options, ...HELP })) {
    options[name] = { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) };
  }
  let parsed: Parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true, allowNegative: true }) as Parsed;
  } catch (e) {
    // parseArgs explains over several lines; the first says what is wrong.
    throw new UsageError((e as Error).message.split("\n")[0]!.replace(/\. To specify a positional argument.*$/, ""), command.name);
  }
  if (parsed.values.help) return "help";
  return parsed;
}

export function helpText(command: Command): string {
  const lines = [`usage: mxdb ${command.usage}`, "", command.summary];
  if (command.details) lines.push("", command.details);
  const specs = Object.entries({ ...command.options, ...HELP });
  const left = specs.map(([name, o]) => `${o.short ? `-${o.short}, ` : "    "}--${name}${o.arg ? ` ${o.arg}` : ""}`);
  const width = Math.max(...left.map((l) => l.length)) + 2;
  lines.push("", "options:");
  specs.forEach(([, o], i) => lines.push(`  ${left[i]!.padEnd(width)}${o.desc}`));
  return `${lines.join("\n")}\n`;
}

export function str(p: Parsed, name: string): string | undefined {
  const v = p.values[name];
  return typeof v === "string" ? v : undefined;
}

export function bool(p: Parsed, name: string): boolean | undefined {
  const v = p.values[name];
  return typeof v === "boolean" ? v : undefined;
}

/** Exactly `n` positionals (or at least `n` when `atLeast`). */
export function positionals(p: Parsed, command: Command, names: string[], atLeast = false): string[] {
  const got = p.positionals;
  if (got.length < names.length || (!atLeast && got.length > names.length)) {
    throw new UsageError(`expected ${names.join(" ")}${atLeast ? " ..." : ""}, got ${got.length === 0 ? "nothing" : got.map((g) => JSON.stringify(g)).join(" ")}`, command.name);
  }
  return got;
}
