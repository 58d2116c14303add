/**
 * `mxdb crypto bootstrap|status|sign-device`: our cross-signing identity (docs/ENCRYPTION.md
 * "Cross-signing"). The password for the server's user-interactive auth comes from --password or
 * MXDB_PASSWORD (with a saved login, the session's token still picks the device); a recovery key,
 * to restore keys another client made, only from MXDB_RECOVERY_KEY (never argv, never logged).
 */
import { bool, CONNECTION, MEMORY, positionals, type Command, type Parsed } from "./args.js";
import { openMemory, resolveConnection } from "./connect.js";
import { EXIT, UsageError } from "./errors.js";
import { out } from "./memory-commands.js";
import type { CrossSigningStatus } from "../db/cross-signing.js";

const OPTIONS = { ...MEMORY, ...CONNECTION };

async function withCrossSigning<T>(p: Parsed, command: string, fn: (m: Awaited<ReturnType<typeof openMemory>>["memory"]) => Promise<T>): Promise<T> {
  const c = resolveConnection(p, command);
  // The password answers the upload's auth; a saved login's token still chooses the device.
  const password = c.password ?? process.env.MXDB_PASSWORD;
  const opened = await openMemory(c, password !== undefined && password !== "" ? { password } : {});
  try {
    return await fn(opened.memory);
  } finally {
    await opened.close();
  }
}

function printStatus(s: CrossSigningStatus): void {
  const who = { ours: "this device holds them", none: "none yet (mxdb crypto bootstrap)", foreign: "made by another client, not held here (mxdb crypto bootstrap with MXDB_RECOVERY_KEY)" }[s.state];
  out(`cross-signing keys: ${who}${s.masterKey !== undefined ? ` — master key ${s.masterKey}` : ""}`);
  out(`this device:        ${s.deviceSigned ? "signed by the self-signing key" : "not cross-signed"}`);
  for (const d of s.devices) out(`device ${d.deviceId}: ${d.crossSigned ? "cross-signed (gets room keys it asks for)" : "not cross-signed (gets only keys it was sent)"}`);
}

const bootstrap: Command = {
  name: "crypto bootstrap",
  usage: "crypto bootstrap [options]",
  summary: "Make and publish the cross-signing keys (master, self-signing, user-signing) and sign this device with them; keys another client made are never replaced.",
  details:
    "The homeserver may ask for the account's password (user-interactive auth): give --password or MXDB_PASSWORD. " +
    "If another client made the keys, set MXDB_RECOVERY_KEY to restore them from secret storage; without it, the status is printed and nothing changes.",
  options: OPTIONS,
  async run(p) {
    if (p.positionals.length > 0) throw new UsageError("crypto bootstrap takes no arguments (a recovery key goes in MXDB_RECOVERY_KEY, never on the command line)", "crypto bootstrap");
    const recoveryKey = process.env.MXDB_RECOVERY_KEY;
    const s = await withCrossSigning(p, "crypto bootstrap", (m) => m.crossSigning.bootstrap(recoveryKey !== undefined && recoveryKey.trim() !== "" ? { recoveryKey } : {}));
    if (bool(p, "json")) out(JSON.stringify(s));
    else {
      out(`${{ created: "created and published the cross-signing keys", signed: "signed this device", unchanged: "already set up", restored: "restored the cross-signing keys from secret storage", foreign: "the account's cross-signing keys were made by another client: left as they are" }[s.action]}`);
      printStatus(s);
    }
    return s.action === "foreign" ? EXIT.runtime : EXIT.ok;
  },
};

const status: Command = {
  name: "crypto status",
  usage: "crypto status [options]",
  summary: "Who holds the account's cross-signing keys, and which of our devices they sign.",
  options: OPTIONS,
  async run(p) {
    const s = await withCrossSigning(p, "crypto status", (m) => m.crossSigning.status());
    if (bool(p, "json")) out(JSON.stringify(s));
    else printStatus(s);
    return EXIT.ok;
  },
};

const signDevice: Command = {
  name: "crypto sign-device",
  usage: "crypto sign-device DEVICE_ID [options]",
  summary: "Cross-sign another device of this account with our self-signing key: it then gets the room keys it asks for. Check the device is really yours first.",
  options: OPTIONS,
  async run(p) {
    const [deviceId] = positionals(p, signDevice, ["DEVICE_ID"]);
    await withCrossSigning(p, "crypto sign-device", (m) => m.crossSigning.signDevice(deviceId!));
    if (bool(p, "json")) out(JSON.stringify({ deviceId, crossSigned: true }));
    else out(`device ${deviceId} is cross-signed`);
    return EXIT.ok;
  },
};

export const cryptoCommands: Command[] = [bootstrap, status, signDevice];
