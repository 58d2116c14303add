/**
 * Issue 10: a store that kept its sync token but lost the room's snapshot (src/sync/store-keys.ts:
 * `sync/room/<roomId>` gone, `sync/next_batch` kept). Reopening must not hang, must not answer
 * `get` from an empty picture, and must never write on it: either the 30 values are read back (the
 * room fetched again) or open fails with a typed StoreFormatError; either way all 30 values are
 * still on the server afterwards. The reopen runs in a child (test/helpers/store-reopen.ts) so a
 * hang is killed at OPEN_BOUND_MS rather than holding the test file for ten minutes.
 *
 * mxdb-test: postgres-too (the durability promise on a Synapse with PostgreSQL too, as production runs it)
 * mxdb-test: dendrite-too (and on a stock Dendrite: docs/HOMESERVERS.md "Dendrite")
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Memory } from "../../src/index.js";
import { editStore, storeEntries } from "../helpers/store-files.js";
import { STORE_KEYS } from "../../src/sync/store-keys.js";
import { compareAcked, describeLost, durabilitySuite, serverValues, stateHistory } from "../helpers/durability.js";
import { sharedRoom } from "../helpers/rooms.js";

const REOPEN = fileURLToPath(new URL("../helpers/store-reopen.ts", import.meta.url));
const OPEN_BOUND_MS = 60_000;
const COUNT = 30;

const suite = durabilitySuite({ scratch: "mxdb-no-snapshot-" });

type Step = { step: "opened"; ms: number } | { step: "values"; values: Record<string, unknown> } | { step: "put"; ms: number } | { step: "error"; at: string; name: string; message: string };

/** Run the reopen child; resolves with its steps, and whether it was killed at the bound. */
function reopen(config: Record<string, unknown>): Promise<{ steps: Step[]; hung: boolean; ms: number }> {
  const started = Date.now();
  const child = spawn(process.execPath, ["--import", "tsx", REOPEN], { env: { ...process.env, MXDB_REOPEN: JSON.stringify(config) }, stdio: ["ignore", "pipe", "inherit"] });
  const steps: Step[] = [];
  createInterface({ input: child.stdout }).on("line", (l) => steps.push(JSON.parse(l) as Step));
  let hung = false;
  const timer = setTimeout(() => ((hung = true), child.kill("SIGKILL")), OPEN_BOUND_MS);
  return new Promise((resolve) => child.on("close", () => (clearTimeout(timer), resolve({ steps, hung, ms: Date.now() - started }))));
}

test("a store with its sync token but no room snapshot: open does not hang, reads are right or refused, and nothing is wiped", { timeout: 180_000 }, async (t) => {
  const [owner, alice] = await suite.users("owner", "alice");
  const roomId = await sharedRoom(owner, [alice]);
  const store = join(suite.scratch, "store");
  const acked: Record<string, unknown> = {};
  const db = await Memory.open({ homeserver: suite.hs.baseUrl, accessToken: alice.accessToken, rooms: { main: roomId }, store, singleStateKey: true, syncTimeoutMs: 5000 });
  await Promise.all(Array.from({ length: COUNT }, (_, i) => db.put(`key-${i}`, { by: "alice", i }).then(() => void (acked[`key-${i}`] = { by: "alice", i }))));
  await db.flush();
  await db.close();
  assert.equal(compareAcked(acked, await serverValues(alice, roomId)).kept, COUNT, "the 30 values are on the server before the store is damaged");

  // Remove the room snapshot, keep everything else (the sync token above all).
  const entries = await storeEntries(store);
  const snapshot = STORE_KEYS.room(roomId);
  assert.ok(entries[snapshot] !== undefined && entries[STORE_KEYS.nextBatch] !== undefined, `the store held ${snapshot} and a sync token: ${Object.keys(entries).join(", ")}`);
  await editStore(store, { [snapshot]: undefined });

  const keys = Object.keys(acked);
  const { steps, hung, ms } = await reopen({ homeserver: suite.hs.baseUrl, accessToken: alice.accessToken, roomId, store, keys, put: { key: "after", value: { by: "alice", after: true } } });
  const opened = steps.find((s) => s.step === "opened");
  const values = steps.find((s) => s.step === "values");
  const error = steps.find((s) => s.step === "error");
  const read = values?.step === "values" ? compareAcked(acked, values.values) : undefined;
  const server = await serverValues(alice, roomId);
  const onServer = compareAcked(acked, server);
  // The reopened writer's state events are those holding "after": each must carry all 30 values.
  const afterWrites = (await stateHistory(alice, roomId)).filter((e) => e.stateKey === "" && "after" in e.content).map((e) => compareAcked(acked, e.content).kept);
  t.diagnostic(
    `reopen: ${hung ? `still not open after ${OPEN_BOUND_MS / 1000} s (killed)` : opened?.step === "opened" ? `opened in ${opened.ms} ms` : "did not open"}` +
      `${error?.step === "error" ? `; ${error.name} at ${error.at}: ${error.message}` : ""}; gets returned ${read ? `${read.kept}/${COUNT}` : "nothing (no open)"}; ` +
      `server afterwards ${onServer.kept}/${COUNT} of the values, put ${server.after !== undefined ? "landed" : "absent"}, its state events held ${afterWrites.map((n) => `${n}/${COUNT}`).join(", ") || "-"} of the values (child ran ${(ms / 1000).toFixed(1)} s)` +
      (onServer.lost.length ? `; e.g. ${describeLost(onServer, acked, server, 2)}` : ""),
  );
  assert.equal(hung, false, `open did not finish within ${OPEN_BOUND_MS / 1000} s`);
  assert.deepEqual(onServer.lost, [], "every value is still on the server");
  assert.deepEqual(afterWrites.filter((n) => n < COUNT), [], "no state event was written on the empty picture");
  if (error?.step === "error") assert.deepEqual({ at: error.at, name: error.name }, { at: "open", name: "StoreFormatError" });
  else {
    assert.deepEqual(read?.lost, [], "every get returned its value");
    assert.deepEqual(server.after, { by: "alice", after: true });
  }
});
