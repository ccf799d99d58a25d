/**
 * A misbehaving REP server for Lazy Pirate tests (lpserver's failure modes on demand): it echoes,
 * or drops a request (reads it, never answers), or answers late, or "crashes" (closes its socket
 * and, on `restart()`, binds the same endpoint again).
 */
import * as zmq from 'zeromq';

export type Behaviour = 'echo' | 'drop' | { delayMs: number } | { reply: Buffer[] };

export class FakeRepServer implements AsyncDisposable {
  endpoint: string;
  /** Every request received, in order, across restarts. */
  readonly received: Buffer[][] = [];
  /** What to do with the next requests (shifted per request); `fallback` once empty. */
  readonly script: Behaviour[] = [];
  fallback: Behaviour = 'echo';
  #socket: zmq.Reply;
  #loop: Promise<void>;

  private constructor(socket: zmq.Reply, endpoint: string) {
    this.#socket = socket;
    this.endpoint = endpoint;
    this.#loop = this.#run(socket);
  }

  static async start(endpoint = 'tcp://127.0.0.1:*'): Promise<FakeRepServer> {
    const socket = new zmq.Reply({ linger: 0 });
    await socket.bind(endpoint);
    return new FakeRepServer(socket, socket.lastEndpoint ?? endpoint);
  }

  async #run(socket: zmq.Reply): Promise<void> {
    try {
      for await (const request of socket) {
        this.received.push(request);
        const behaviour = this.script.shift() ?? this.fallback;
        if (behaviour === 'drop') {
          // A REP must answer before it can read again: "crash" quietly by staying silent on a
          // fresh socket at the same endpoint.
          await this.#rebind();
          return;
        }
        if (behaviour === 'echo') await socket.send(request);
        else if ('delayMs' in behaviour) {
          await new Promise((r) => setTimeout(r, behaviour.delayMs));
          if (!socket.closed) await socket.send(request);
        } else await socket.send(behaviour.reply);
      }
    } catch {
      // socket closed
    }
  }

  async #rebind(): Promise<void> {
    this.#socket.close();
    const socket = new zmq.Reply({ linger: 0 });
    await bindRetrying(socket, this.endpoint);
    this.#socket = socket;
    this.#loop = this.#run(socket);
  }

  /** Crash: close the socket; clients' requests go nowhere until `restart()`. */
  async crash(): Promise<void> {
    this.#socket.close();
    await this.#loop;
  }

  /** Come back on the same endpoint. */
  async restart(): Promise<void> {
    const socket = new zmq.Reply({ linger: 0 });
    await bindRetrying(socket, this.endpoint);
    this.#socket = socket;
    this.#loop = this.#run(socket);
  }

  async close(): Promise<void> {
    this.#socket.close();
    await this.#loop;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

async function bindRetrying(socket: zmq.Reply, endpoint: string): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      await socket.bind(endpoint);
      return;
    } catch (err) {
      if (i > 50) throw err;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}
