/**
 * The I/O half of the sans-IO crypto machine (src/crypto/README.md "Protocol steps"): sends each
 * request the machine wants through HttpClient and tells the machine the answer.
 *
 *   keys_upload -> https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3keysupload
 *   keys_query  -> https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3keysquery
 *   keys_claim  -> https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3keysclaim
 *   to_device   -> https://spec.matrix.org/v1.19/client-server-api/#put_matrixclientv3sendtodeviceeventtypetxnid
 *
 * One run at a time, requests one after another (a keys_query must be answered before the claim
 * that needs its devices). A failed request is reported to onError and stays for a later run (the
 * sync-driven runs back off after failures, 1 s doubling to 5 min),
 * with the same body and txnId, except a claim or query refused by the server, which the machine
 * rebuilds (a claim resent blindly would burn another one-time key).
 */
import type { CryptoMachine, OutgoingRequest } from "../crypto/index.js";
import type { HttpClient } from "../http/client.js";
import { claimKeys } from "../http/endpoints/keys/claim-keys.js";
import { queryKeys } from "../http/endpoints/keys/query-keys.js";
import { uploadKeys } from "../http/endpoints/keys/upload-keys.js";
import { sendToDevice } from "../http/endpoints/to-device/send-to-device.js";
import { isMatrixError } from "../http/errors.js";

export class CryptoDriver {
  private running: Promise<void> | undefined;
  private again = false;
  /**
   * Room-key shares whose send failed: retried by every run until they get through. The machine keeps
   * them in its store too, and lists them from outgoingRequests() after a restart.
   */
  private readonly unsent = new Map<string, OutgoingRequest>();
  private closed = false;
  /** After a failed request, runs started by sync wait this long (doubling up to 5 min, reset on success). */
  private backoffMs = 0;
  private pausedUntil = 0;

  constructor(
    private readonly machine: CryptoMachine,
    private readonly http: HttpClient,
    private readonly onError: (e: unknown) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Send everything the machine has queued. Calls while a run is going wait for one more run
   * after it, so what was queued before the call is sent when the promise resolves. Never rejects.
   */
  process(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running.then(() => this.process());
    }
    this.running = this.loop().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Send a request the caller got from the machine itself (a claim, a room-key share) and mark it. */
  async sendOwn(req: OutgoingRequest): Promise<boolean> {
    const ok = await this.sendOne(req);
    if (!ok && req.kind === "to_device") this.unsent.set(req.id, req);
    return ok;
  }

  /** Stop taking work and wait for the run in flight. */
  async close(): Promise<void> {
    this.closed = true;
    await this.running;
  }

  /** Like process(), but skipped while backing off after a failure (the sync loop calls this). */
  processSoon(): Promise<void> {
    if (this.now() < this.pausedUntil) return Promise.resolve();
    return this.process();
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      for (const req of this.unsent.values()) if (await this.sendOne(req)) this.unsent.delete(req.id);
      let reqs: OutgoingRequest[];
      try {
        reqs = this.closed ? [] : this.machine.outgoingRequests();
      } catch (e) {
        this.onError(e);
        return;
      }
      for (const req of reqs) {
        if (this.closed) return;
        await this.sendOne(req);
      }
    } while (this.again && !this.closed);
  }

  /** true when the request went through and the machine took the answer. */
  private async sendOne(req: OutgoingRequest): Promise<boolean> {
    let body: unknown;
    try {
      body = await this.send(req);
      this.backoffMs = 0;
    } catch (e) {
      this.onError(e);
      this.backoffMs = Math.min(Math.max(1000, this.backoffMs * 2), 300_000);
      this.pausedUntil = this.now() + this.backoffMs;
      // The server refused it for good: let the machine rebuild it (queries and claims only).
      if ((req.kind === "keys_claim" || req.kind === "keys_query") && isMatrixError(e) && e.status >= 400 && e.status < 500 && e.status !== 429) {
        try {
          this.machine.markRequestAsFailed(req.id);
        } catch (e2) {
          this.onError(e2);
        }
      }
      return false;
    }
    try {
      await this.machine.markRequestAsSent(req.id, body);
      return true;
    } catch (e) {
      this.onError(e);
      return false;
    }
  }

  /** The exact response body (the machine checks signatures over what the server sent). */
  private async send(req: OutgoingRequest): Promise<unknown> {
    switch (req.kind) {
      case "keys_upload":
        return JSON.parse((await this.http.call(uploadKeys, req.body)).raw);
      case "keys_query":
        return JSON.parse((await this.http.call(queryKeys, { deviceKeys: req.body.device_keys, timeout: req.body.timeout })).raw);
      case "keys_claim":
        return JSON.parse((await this.http.call(claimKeys, { oneTimeKeys: req.body.one_time_keys, timeout: req.body.timeout })).raw);
      case "to_device":
        // The request id is the txnId: a resend is deduplicated by the server.
        await this.http.send(sendToDevice, { eventType: req.eventType, txnId: req.txnId, messages: req.body.messages as Record<string, Record<string, Record<string, unknown>>> });
        return {};
    }
  }
}
