/** Opening CryptoMachines against a FakeKeyServer, and a raw libolm device for forging payloads. */
import { CryptoMachine, type CryptoMachineOptions } from "../../src/crypto/machine.js";
import type { CryptoError } from "../../src/crypto/errors.js";
import { olmBackend } from "../../src/crypto/olm/backend.js";
import { keysUploadBody, OLM_ALGORITHM } from "../../src/crypto/account.js";
import type { AccountObj, IdentityKeys } from "../../src/crypto/backend.js";
import { type Client, type FakeKeyServer, MemoryKV } from "./fake-key-server.js";

export const STORE_KEY = new Uint8Array(32).map((_, i) => i + 1);

export interface TestClient extends Client {
  kv: MemoryKV;
  rejected: CryptoError[];
  clock: { t: number };
  reopen(): Promise<TestClient>;
}

export async function openClient(
  userId: string,
  deviceId: string,
  more: Partial<CryptoMachineOptions> & { kv?: MemoryKV; clock?: { t: number } } = {},
): Promise<TestClient> {
  const kv = more.kv ?? new MemoryKV();
  const clock = more.clock ?? { t: 1_700_000_000_000 };
  const rejected: CryptoError[] = [];
  const machine = await CryptoMachine.open({
    userId,
    deviceId,
    store: kv,
    storeKey: STORE_KEY,
    now: () => clock.t,
    onRejected: (e) => rejected.push(e),
    ...more,
  });
  const c: TestClient = {
    userId,
    deviceId,
    machine,
    kv,
    rejected,
    clock,
    reopen: async () => {
      machine.close();
      return openClient(userId, deviceId, { ...more, kv, clock });
    },
  };
  return c;
}

/** A device driven by raw libolm calls, so tests can send payloads the machine would never build. */
export class RawDevice {
  private constructor(
    readonly server: FakeKeyServer,
    readonly userId: string,
    readonly deviceId: string,
    readonly account: AccountObj,
    readonly ids: IdentityKeys,
  ) {}

  static async create(server: FakeKeyServer, userId: string, deviceId: string): Promise<RawDevice> {
    const backend = await olmBackend();
    const account = backend.newAccount();
    account.generateOneTimeKeys(5);
    const ids = account.identityKeys();
    const body = keysUploadBody(account, ids, { userId, deviceId, pickle: "", deviceKeysUploaded: false })!;
    server.handle(userId, deviceId, { id: "raw", kind: "keys_upload", body });
    account.markKeysAsPublished();
    return new RawDevice(server, userId, deviceId, account, ids);
  }

  /** Olm-encrypt `payload` (defaults: a correct payload) to `to` over a new session; deliver it. */
  sendOlm(to: Client, type: string, content: Record<string, unknown>, overrides: Record<string, unknown> = {}, eventSender = this.userId): void {
    const claim = this.server.handle(this.userId, this.deviceId, {
      id: "raw",
      kind: "keys_claim",
      body: { one_time_keys: { [to.userId]: { [to.deviceId]: "signed_curve25519" } } },
    }) as { one_time_keys: Record<string, Record<string, Record<string, { key: string }>>> };
    const otk = Object.values(claim.one_time_keys[to.userId]![to.deviceId]!)[0]!.key;
    const theirs = to.machine.identityKeys();
    const s = this.account.createOutboundSession(theirs.curve25519, otk);
    try {
      const payload = {
        type,
        content,
        sender: this.userId,
        recipient: to.userId,
        recipient_keys: { ed25519: theirs.ed25519 },
        keys: { ed25519: this.ids.ed25519 },
        ...overrides,
      };
      const m = s.encrypt(JSON.stringify(payload));
      this.server.deliver(to.userId, to.deviceId, {
        type: "m.room.encrypted",
        sender: eventSender,
        content: { algorithm: OLM_ALGORITHM, sender_key: this.ids.curve25519, ciphertext: { [theirs.curve25519]: m } },
      });
    } finally {
      s.free();
    }
  }

  free(): void {
    this.account.free();
  }
}
