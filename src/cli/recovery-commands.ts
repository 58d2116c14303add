/**
 * `mxdb recovery create|restore|status`: the recovery key and the server-side key backup
 * (docs/ENCRYPTION.md "Recovery"). The recovery key is printed once by create and read by restore from
 * MXDB_RECOVERY_KEY or standard input, never from argv (argv shows in `ps` and shell history); it is
 * never written to a file, a trace or an error message.
 */
import { bool, CONNECTION, MEMORY, type Command, type Parsed } from "./args.js";
import { CliError, EXIT, UsageError } from "./errors.js";
import { out, withMemory } from "./memory-commands.js";
import type { Memory } from "../db/memory.js";

const OPTIONS = { ...MEMORY, ...CONNECTION };

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write("recovery key: ");
  let text = "";
  for await (const chunk of process.stdin) text += String(chunk);
  return text;
}

function withRecovery<T>(p: Parsed, command: string, extra: { recoveryKey?: string }, fn: (m: Memory) => Promise<T>): Promise<T> {
  return withMemory(p, command, (opened) => fn(opened.memory), extra);
}

const create: Command = {
  name: "recovery create",
  usage: "recovery create [options]",
  summary: "Make a recovery key: secret storage, a new server-side key backup of every room key, and the key printed ONCE. Keep it safe: with it, a new device reads every encrypted value.",
  details: "Set MXDB_RECOVERY_PASSPHRASE to also allow the passphrase (m.pbkdf2) in place of the key. A second create replaces the backup and the key.",
  options: OPTIONS,
  async run(p) {
    const passphrase = process.env.MXDB_RECOVERY_PASSPHRASE;
    const key = await withRecovery(p, "recovery create", {}, (m) => m.recovery.create(passphrase !== undefined && passphrase !== "" ? { passphrase } : {}));
    if (bool(p, "json")) out(JSON.stringify({ recoveryKey: key }));
    else {
      out(key);
      process.stderr.write("mxdb: this is the recovery key; it is not stored anywhere — write it down now\n");
    }
    return EXIT.ok;
  },
};

const restore: Command = {
  name: "recovery restore",
  usage: "recovery restore [options]",
  summary: "Restore every room key from the server-side key backup with the recovery key, read from MXDB_RECOVERY_KEY or standard input (never from the command line).",
  details: "Use it on a new device (mxdb login with a password makes one). Then every command reads the encrypted values. A wrong key changes nothing.",
  options: OPTIONS,
  async run(p) {
    // Not echoed: it may be the key itself.
    if (p.positionals.length > 0) throw new UsageError("the recovery key is never read from the command line (ps and shell history show it): set MXDB_RECOVERY_KEY or pipe it to standard input", "recovery restore");
    const recoveryKey = process.env.MXDB_RECOVERY_KEY ?? (await readStdin());
    if (recoveryKey.trim() === "") throw new CliError("no recovery key: set MXDB_RECOVERY_KEY or give it on standard input");
    const status = await withRecovery(p, "recovery restore", { recoveryKey }, (m) => m.recovery.status());
    const r = status.lastRestore;
    if (bool(p, "json")) out(JSON.stringify(r ?? {}));
    else out(`restored ${r?.imported ?? 0} room keys from backup version ${r?.version ?? "?"}${r?.kept ? ` (${r.kept} already here)` : ""}${r?.failed ? `; ${r.failed} could not be used` : ""}`);
    return r && r.failed > 0 ? EXIT.runtime : EXIT.ok;
  },
};

const status: Command = {
  name: "recovery status",
  usage: "recovery status [options]",
  summary: "Is there a recovery key (secret storage) and a key backup, and has this device uploaded every room key to it?",
  options: OPTIONS,
  async run(p) {
    const s = await withRecovery(p, "recovery status", {}, (m) => m.recovery.status());
    if (bool(p, "json")) {
      out(JSON.stringify(s));
      return EXIT.ok;
    }
    out(`secret storage: ${s.secretStorageKeyId !== undefined ? `key ${s.secretStorageKeyId}` : "none (mxdb recovery create)"}`);
    out(`server backup:  ${s.serverBackup ? `version ${s.serverBackup.version}, ${s.serverBackup.count} room keys` : "none"}`);
    out(`this device:    ${s.deviceBackup ? `uploads to version ${s.deviceBackup.version}, ${s.deviceBackup.pending} waiting${s.deviceBackup.version !== s.serverBackup?.version ? " (not the server's current backup: restore or create)" : ""}` : "not uploading (mxdb recovery create, or restore)"}`);
    return EXIT.ok;
  },
};

export const recoveryCommands: Command[] = [create, restore, status];
