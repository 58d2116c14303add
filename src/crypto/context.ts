/** What every protocol step needs from the machine: identity, primitives, clock and the stores. */
import type { AccountObj, CryptoBackend, IdentityKeys } from "./backend.js";
import type { DeviceBook } from "./devices.js";
import type { InboundGroupSessions } from "./megolm/inbound.js";
import type { OlmSessions } from "./olm/sessions.js";
import type { RandomBytes, SealedStore } from "./store.js";

export interface CryptoContext {
  readonly userId: string;
  readonly deviceId: string;
  readonly ids: IdentityKeys;
  readonly backend: CryptoBackend;
  readonly account: AccountObj;
  readonly store: SealedStore;
  /** Olm pickles use the storeKey too (32 bytes). */
  readonly pickleKey: Uint8Array;
  readonly devices: DeviceBook;
  readonly olm: OlmSessions;
  readonly inbound: InboundGroupSessions;
  now(): number;
  random: RandomBytes;
  /** Re-pickle the account into the store (after OTKs are generated, used or published). */
  saveAccount(): void;
}
