/**
 * A device added to an account with its password, as an attacker (or a homeserver) could: a bare
 * password login, the project's own CryptoMachine (in memory) and CryptoDriver over HTTP, and a
 * manual /sync. It asks our other devices for room keys and decrypts what it got.
 */
import { CryptoMachine, UnknownSessionError } from "../../src/crypto/index.js";
import { CryptoDriver } from "../../src/db/crypto-driver.js";
import { HttpClient } from "../../src/http/client.js";
import { login } from "../../src/http/endpoints/account/login.js";
import { getEvent } from "../../src/http/endpoints/events/get-event.js";
import { getStateContent } from "../../src/http/endpoints/state/get-state.js";
import { sync } from "../../src/http/endpoints/sync/sync.js";
import { sendToDevice } from "../../src/http/endpoints/to-device/send-to-device.js";
import { STORE_KEY } from "./crypto-clients.js";
import { MemoryKV } from "./fake-key-server.js";

export interface RogueDevice {
  deviceId: string;
  errors: unknown[];
  /** One /sync (to-device events, device lists) handed to the machine, then every queued request sent. */
  sync(): Promise<void>;
  /** Each key's value from the room's dev.opsdroid.database state (single state key), or the error decrypting it. */
  readAll(roomId: string): Promise<Record<string, unknown>>;
  /** m.room_key_request for every session of those values to `deviceId` of our user, with fresh request ids. */
  requestAll(roomId: string, toDeviceId: string): Promise<number>;
  close(): Promise<void>;
}

export async function rogueDevice(baseUrl: string, user: { userId: string; password: string }): Promise<RogueDevice> {
  const http = new HttpClient({ baseUrl });
  const res = await http.send(login, { user: user.userId, password: user.password, initialDeviceDisplayName: "rogue" });
  http.setAccessToken(res.access_token);
  const machine = await CryptoMachine.open({ userId: res.user_id, deviceId: res.device_id, store: new MemoryKV(), storeKey: STORE_KEY });
  const errors: unknown[] = [];
  const driver = new CryptoDriver(machine, http, (e) => errors.push(e));
  await driver.process();
  let since: string | undefined;
  let n = 0;
  const events = async (roomId: string) => {
    const refs = (await http.send(getStateContent, { roomId, eventType: "dev.opsdroid.database", stateKey: "" })) as Record<string, { encrypted_val: string }>;
    return Promise.all(Object.entries(refs).map(async ([key, ref]) => ({ key, event: (await http.send(getEvent, { roomId, eventId: ref.encrypted_val })) as unknown as { type: string; event_id: string; room_id: string; sender: string; origin_server_ts: number; content: Record<string, unknown> } })));
  };
  const self: RogueDevice = {
    deviceId: res.device_id,
    errors,
    async sync() {
      const r = await http.send(sync, { ...(since !== undefined ? { since } : {}), timeout: 0 });
      since = r.next_batch;
      await machine.receiveSyncChanges({ toDevice: r.to_device?.events ?? [], changedDevices: r.device_lists ?? {} });
      await driver.process();
    },
    async readAll(roomId) {
      const out: Record<string, unknown> = {};
      for (const { key, event } of await events(roomId)) {
        try {
          out[key] = (await machine.decryptRoomEvent({ ...event, room_id: roomId })).content[key];
        } catch (e) {
          if (!(e instanceof UnknownSessionError)) throw e;
          out[key] = e;
        }
      }
      return out;
    },
    async requestAll(roomId, toDeviceId) {
      const sessions = new Map<string, string>();
      for (const { event } of await events(roomId)) sessions.set(String(event.content.session_id), String(event.content.sender_key));
      for (const [sessionId, senderKey] of sessions) {
        // The machine remembers it asked (so it accepts the forwarded key); the raw request is what gets sent each time.
        await machine.requestRoomKey(roomId, sessionId, senderKey);
        const content = { action: "request", requesting_device_id: res.device_id, request_id: `rogue-${++n}`, body: { algorithm: "m.megolm.v1.aes-sha2", room_id: roomId, session_id: sessionId, sender_key: senderKey } };
        await http.send(sendToDevice, { eventType: "m.room_key_request", txnId: `rogue-${n}`, messages: { [res.user_id]: { [toDeviceId]: content } } });
      }
      return sessions.size;
    },
    async close() {
      await driver.close();
      machine.close();
      await http.close();
    },
  };
  return self;
}
