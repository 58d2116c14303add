/**
 * One memory across two federating Synapses (src/homeserver/federation.ts): a Memory on server B
 * reads what a Memory on server A wrote, and B's watch sees A's writes, in both state-key modes.
 * The servers federate over TLS on loopback with a CA made for the run (docs/FEDERATION.md).
 *
 * mxdb-test: msc4222-too
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { MemoryChange } from "../../src/index.js";
import { federationSuite } from "../helpers/federation.js";
import { serverValues } from "../helpers/durability.js";
import { eventually } from "../helpers/wait.js";

const suite = federationSuite();

test("the servers are named localhost:PORT and federate over TLS with certificates verified", { timeout: 180_000 }, () => {
  const [a, b] = suite.fed.servers;
  for (const s of [a!, b!]) {
    assert.match(s.info.serverName, /^localhost:\d+$/);
    assert.ok(s.info.federation, "a TLS federation listener");
  }
  assert.notEqual(a!.info.serverName, b!.info.serverName);
});

for (const singleStateKey of [true, false]) {
  test(`a Memory on B reads A's writes, and B's watch sees them (singleStateKey ${singleStateKey})`, { timeout: 240_000 }, async () => {
    const alice = await suite.user(0, "alice");
    const bob = await suite.user(1, "bob");
    const roomId = await suite.fed.sharedRoom(alice, [bob]);
    const a = await suite.memory(alice, roomId, { singleStateKey });
    const b = await suite.memory(bob, roomId, { singleStateKey });

    const seen: MemoryChange[] = [];
    const collecting = (async () => {
      for await (const change of b.watch()) {
        seen.push(change);
        if (change.key === "done") break;
      }
    })();
    const written: Record<string, unknown> = { twim: { hello: "from A" }, list: [1, 2, { n: 3 }], n: 42, text: "é ✓" };
    for (const [k, v] of Object.entries(written)) await a.put(k, v);
    await a.put("done", true);
    await a.flush();
    await collecting;

    const last = new Map(seen.map((c) => [c.key, c] as const));
    for (const [k, v] of Object.entries({ ...written, done: true })) {
      assert.deepEqual(last.get(k)?.value, v, `watch on B saw ${k}`);
      assert.equal(last.get(k)?.sender, alice.userId);
    }
    for (const [k, v] of Object.entries(written)) assert.deepEqual(await b.get(k), v, `B reads ${k}`);
    // And back: B writes, A reads (the room lives on both servers).
    await b.put("reply", { from: bob.userId });
    await b.flush();
    const reply = await eventually(() => a.get("reply"), (v) => v !== undefined, 60_000);
    assert.deepEqual(reply, { from: bob.userId });
    // Each server's own copy of the room state holds the same values.
    const [onA, onB] = await Promise.all([serverValues(alice, roomId), serverValues(bob, roomId)]);
    assert.deepEqual(onB, onA);
    assert.deepEqual(onA, { ...written, done: true, reply: { from: bob.userId } });
  });
}
