import { HttpClient } from "../src/http/client.js";
import { putState } from "../src/http/index.js";
import { simulatedServer } from "./helpers/simulated-ratelimit-server.js";
import { virtualClock } from "./helpers/virtual-clock.js";
for (let round = 0; round < 200; round++) {
  const clock = virtualClock();
  const server = simulatedServer(clock, { outage: () => 503 });
  const client = new HttpClient({ baseUrl: "http://127.0.0.1:8008", accessToken: "t", transport: server.transport, clock, retry: { deadlineMs: 30_000 } });
  const p = client.send(putState, { roomId: "!r:hs", eventType: "e", stateKey: "", content: {} });
  const o = await clock.run(Promise.allSettled([p]), 40_000).catch((e) => { console.log("round", round, String(e), server.exchanges.length, server.exchanges.slice(-3)); process.exit(1); });
}
console.log("all fine");
