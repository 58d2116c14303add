/**
 * memory.crossSigning: our cross-signing identity (docs/ENCRYPTION.md "Cross-signing"). A thin front:
 * the work is in ./cross-signing-setup.ts, loaded with the crypto layer.
 */
import { RecoverySetupError } from "../crypto/backup/errors.js";
import type { BootstrapAction, CrossSigningSetup, CrossSigningStatus } from "./cross-signing-setup.js";
import type { ValueCrypto } from "./value-crypto.js";

export type { BootstrapAction, CrossSigningStatus } from "./cross-signing-setup.js";

export class CrossSigning {
  constructor(private readonly layer: () => Promise<ValueCrypto | undefined>) {}

  /**
   * Make and publish the master, self-signing and user-signing keys and sign this device, unless the
   * account has them. Keys another client made are never replaced: with `recoveryKey` they are restored
   * from secret storage, else the status says "foreign". Needs the password when the server asks for
   * user-interactive auth (CrossSigningAuthError).
   */
  async bootstrap(options: { recoveryKey?: string } = {}): Promise<CrossSigningStatus & { action: BootstrapAction }> {
    return (await this.setup()).bootstrap(options);
  }

  /** Who holds the account's cross-signing keys, and which of our devices they sign. */
  async status(): Promise<CrossSigningStatus> {
    return (await this.setup()).status();
  }

  /** Sign another device of ours (as last seen by keys/query) with our self-signing key: it then gets room keys it asks for. */
  async signDevice(deviceId: string): Promise<void> {
    if (typeof deviceId !== "string" || deviceId === "") throw new RecoverySetupError("signDevice needs a device ID");
    await (await this.setup()).signDevice(deviceId);
  }

  private async setup(): Promise<CrossSigningSetup> {
    const layer = await this.layer();
    if (layer && "crossSigning" in layer) return layer.crossSigning as CrossSigningSetup;
    const reason = layer && "reason" in layer ? String(layer.reason) : "encryption is off (encryption: false)";
    throw new RecoverySetupError(`cross-signing needs the crypto layer, and ${reason}`);
  }
}
