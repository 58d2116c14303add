/**
 * The crypto layer (./encryption.ts, with libolm's WASM: about 13 MB resident) is loaded only when
 * this memory may need it: a joined room is encrypted, or this device already has a crypto account in
 * the store (its other devices may be sending it room keys). The check runs before each sync batch is
 * saved, so once the layer is needed no to-device event is stored past it unseen.
 */
import type { HttpClient } from "../http/client.js";
import type { Store } from "../store/store.js";
import type { SyncLoop, SyncResponse } from "../sync/sync-loop.js";
import type { EncryptionOptions, UnavailableEncryption, ValueEncryption } from "./encryption.js";
import type { UnlockedRecovery } from "./key-backup.js";
import { RecoverySetupError } from "../crypto/backup/errors.js";
import { ACCOUNT_RECORD, type ValueCrypto } from "./value-crypto.js";

const ENCRYPTION_EVENT = "m.room.encryption";

interface Deps {
  http: HttpClient;
  store: Store;
  userId: string;
  deviceId: string | undefined;
  /** Memory.open({recoveryKey}): the layer opens with the first sync and restores the backup. */
  recovery?: UnlockedRecovery | undefined;
}

export class LazyEncryption {
  private layer: ValueEncryption | UnavailableEncryption | undefined;
  private opening: Promise<void> | undefined;
  private sync: SyncLoop | undefined;
  private hasAccount: Promise<boolean> | undefined;
  private started = false;
  private rejectFailure!: (e: unknown) => void;
  /**
   * Rejects when the layer cannot open during Memory.open (a wrong store passphrase, a sealed store
   * without its key): open fails with that error, and the batch that needed the layer is not saved.
   */
  readonly failure = new Promise<never>((_, reject) => (this.rejectFailure = reject));

  constructor(
    private readonly opts: EncryptionOptions,
    private readonly deps: Deps,
    private readonly onOpen: (layer: ValueCrypto) => void,
  ) {
    this.failure.catch(() => undefined);
  }

  bind(sync: SyncLoop): void {
    this.sync = sync;
  }

  /** SyncLoop's beforeCommit: open the layer if this batch needs it, then hand the batch to it. */
  beforeCommit = async (response: SyncResponse): Promise<void> => {
    if (!this.layer && this.opts.encryption !== false && (await this.wanted(response))) await this.open();
    await this.layer?.beforeSyncCommit(response);
  };

  /** Resolves once the layer (if open) has sent what the first sync asked of it; Memory.open is done. */
  async ready(): Promise<void> {
    await this.opening;
    await this.layer?.ready();
    this.started = true;
  }

  /** The layer now, opened if needed (undefined when encryption is off). */
  async openNow(): Promise<ValueCrypto | undefined> {
    if (this.opts.encryption !== false) await this.open();
    return this.layer;
  }

  private async wanted(response: SyncResponse): Promise<boolean> {
    if (this.deps.recovery) return true;
    for (const room of Object.values(response.rooms?.join ?? {})) {
      const events = [...(room.state?.events ?? []), ...(room.state_after?.events ?? []), ...(room["org.matrix.msc4222.state_after"]?.events ?? []), ...(room.timeline?.events ?? [])];
      if (events.some((e) => e.type === ENCRYPTION_EVENT)) return true;
    }
    for (const room of this.sync?.rooms().values() ?? []) if (room.encryption()) return true;
    this.hasAccount ??= this.deps.store.get(ACCOUNT_RECORD).then((v) => v !== undefined);
    return this.hasAccount;
  }

  private open(): Promise<void> {
    this.opening ??= (async () => {
      const { openEncryption, UnavailableEncryption } = await import("./encryption.js");
      let layer: ValueEncryption | UnavailableEncryption | undefined;
      try {
        layer = await openEncryption(this.opts, this.deps);
        // Opening with a recovery key and no usable crypto layer would look like a restore that worked.
        if (this.deps.recovery && layer && "reason" in layer) throw new RecoverySetupError(`cannot restore: ${layer.reason}`);
      } catch (e) {
        if (!this.started) {
          this.opening = undefined;
          this.rejectFailure(e);
          throw e;
        }
        // Later on, one room's needs must not stop the sync loop: refuse encrypted values, say why.
        this.opts.onError?.(e);
        layer = new UnavailableEncryption(`the crypto store could not be opened: ${e instanceof Error ? e.message : String(e)}`);
      }
      if (!layer) return;
      if (this.sync) layer.attach(this.sync);
      this.layer = layer;
      this.onOpen(layer);
    })();
    return this.opening;
  }
}
