/**
 * A sync fence: proof that the sync picture includes everything the homeserver had at a moment.
 *
 * Synapse answers a /sync that repeats an earlier request (same user, device, since, filter and
 * timeout) from a cache for two minutes by default, so a fresh process can be handed a picture
 * that is minutes old. A to-device message to our own device
 * (https://spec.matrix.org/v1.19/client-server-api/#put_matrixclientv3sendtodeviceeventtypetxnid)
 * can only come back in a sync computed after it was sent, and such a sync carries every room event
 * stored before that moment: once it is applied, the picture is current as of the send.
 */
import type { HttpClient } from "../http/client.js";
import { sendToDevice } from "../http/endpoints/to-device/send-to-device.js";
import type { SyncLoop } from "../sync/sync-loop.js";

export const FENCE_EVENT_TYPE = "dev.mxdb.sync_fence";

/** Resolves once a sync that carries a fresh fence message has been applied. */
export async function syncFence(http: HttpClient, sync: SyncLoop, userId: string, deviceId: string | undefined): Promise<void> {
  // No device (some appservice tokens): no to-device queue to use; the picture is as fresh as the first sync.
  if (deviceId === undefined) return;
  const nonce = http.txnId();
  let off: () => void = () => {};
  const seen = new Promise<void>((resolve) => {
    off = sync.on("sync", (response) => {
      const events = response.to_device?.events ?? [];
      if (events.some((e) => isFence(e, nonce))) resolve();
    });
  });
  try {
    await http.send(sendToDevice, { eventType: FENCE_EVENT_TYPE, txnId: nonce, messages: { [userId]: { [deviceId]: { nonce } } } });
    await Promise.race([seen, sync.done.then(() => Promise.reject(new Error("the sync loop ended before the sync fence came back")))]);
  } finally {
    off();
  }
}

function isFence(e: unknown, nonce: string): boolean {
  const ev = e as { type?: unknown; content?: { nonce?: unknown } };
  return ev?.type === FENCE_EVENT_TYPE && ev.content?.nonce === nonce;
}
