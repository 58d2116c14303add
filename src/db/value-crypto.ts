/**
 * What the memory needs of the crypto layer, on its own so that memory.ts, lazy-encryption.ts and
 * encryption.ts all depend on this file and not on each other.
 */

/**
 * Sends a value as an encrypted room event and reads one back (opsdroid's format,
 * docs/OPSDROID.md "Encrypted values").
 */
export interface ValueCrypto {
  encryptValue(roomId: string, key: string, value: unknown): Promise<string>;
  decryptValue(roomId: string, key: string, eventId: string): Promise<unknown>;
  close(): Promise<void>;
}

/** The machine's account record (src/crypto/machine.ts, default prefix): this device has crypto state. */
export const ACCOUNT_RECORD = "crypto/account";
