/**
 * A loopback TCP proxy in front of one Synapse's federation listener, so a test can cut federation
 * and heal it (a network partition) without stopping either server. It relays bytes only: TLS runs
 * end to end between the two Synapses. While cut, it drops every open connection and resets each
 * new one at once (the sending server sees a failed request, as on a broken network). Used by the
 * test harness (src/homeserver/federation.ts), not by the library; it lives here because only
 * src/http touches the network.
 */
import { createServer, Socket, type Server } from "node:net";

export class CuttableProxy {
  private readonly sockets = new Set<Socket>();
  private cutNow = false;

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly target: number,
  ) {
    server.on("connection", (client) => this.relay(client));
  }

  /** Listen on 127.0.0.1:`port` (0: a free one) and relay to 127.0.0.1:`target`. */
  static async start(target: number, port = 0): Promise<CuttableProxy> {
    const server = createServer();
    server.unref();
    const bound = await new Promise<number>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => {
        const address = server.address();
        resolve(typeof address === "object" && address ? address.port : 0);
      });
    });
    return new CuttableProxy(server, bound, target);
  }

  get isCut(): boolean {
    return this.cutNow;
  }

  /** Drop every connection and refuse new ones until heal(). */
  cut(): void {
    this.cutNow = true;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  heal(): void {
    this.cutNow = false;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private relay(client: Socket): void {
    if (this.cutNow) {
      client.resetAndDestroy();
      return;
    }
    const upstream = new Socket();
    this.sockets.add(client);
    this.sockets.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", drop);
    upstream.connect(this.target, "127.0.0.1", () => {
      client.pipe(upstream);
      upstream.pipe(client);
    });
  }
}
