/**
 * Raw peers: plain zeromq sockets with a receive-with-timeout, for speaking (or breaking) any
 * protocol by hand in tests. Each peer has linger 0 and closes on dispose.
 */
import * as zmq from 'zeromq';
import { type Frames, type Message } from '@zpatterns/core';
import { toBuffer } from '@zpatterns/core/internal';

export class RawPeer<TSocket extends zmq.Socket & zmq.Writable & zmq.Readable<Message>> implements AsyncDisposable {
  readonly socket: TSocket;
  readonly #inbox: Message[] = [];
  #waiter: ((message: Message) => void) | undefined;
  readonly #loop: Promise<void>;

  constructor(socket: TSocket) {
    this.socket = socket;
    this.#loop = this.#run();
  }

  async #run(): Promise<void> {
    try {
      for await (const message of this.socket) {
        const waiter = this.#waiter;
        if (waiter !== undefined) {
          this.#waiter = undefined;
          waiter(message);
        } else this.#inbox.push(message);
      }
    } catch {
      // closed
    }
  }

  async send(frames: Frames): Promise<void> {
    await this.socket.send(frames.map(toBuffer));
  }

  /** Messages received and not yet read. */
  get pending(): number {
    return this.#inbox.length;
  }

  /** The next message, or a rejection after `timeoutMs`. */
  receive(timeoutMs = 5000): Promise<Message> {
    const queued = this.#inbox.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.#waiter !== undefined) return Promise.reject(new Error('RawPeer: one receive at a time'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiter = undefined;
        reject(new Error(`RawPeer: nothing received within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiter = (message) => {
        clearTimeout(timer);
        resolve(message);
      };
    });
  }

  /** Resolve with the next message that satisfies `predicate`, discarding the others. */
  async receiveMatching(predicate: (message: Message) => boolean, timeoutMs = 5000): Promise<Message> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const left = until - Date.now();
      if (left <= 0) throw new Error(`RawPeer: no matching message within ${timeoutMs} ms`);
      const message = await this.receive(left);
      if (predicate(message)) return message;
    }
  }

  /** Expect silence: resolves if nothing arrives within `ms`, rejects with what arrived otherwise. */
  async expectNothing(ms: number): Promise<void> {
    try {
      const message = await this.receive(ms);
      throw new Error(`RawPeer: expected nothing, got ${message.length} frames`);
    } catch (err) {
      if ((err as Error).message.startsWith('RawPeer: nothing received')) return;
      throw err;
    }
  }

  async close(): Promise<void> {
    if (!this.socket.closed) this.socket.close();
    await this.#loop;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** A DEALER connected to `endpoint`. */
export function rawDealer(endpoint: string, options: zmq.SocketOptions<zmq.Dealer> = {}): RawPeer<zmq.Dealer> {
  const socket = new zmq.Dealer({ linger: 0, ...options });
  socket.connect(endpoint);
  return new RawPeer(socket);
}

/** A REQ connected to `endpoint`. */
export function rawRequest(endpoint: string, options: zmq.SocketOptions<zmq.Request> = {}): RawPeer<zmq.Request> {
  const socket = new zmq.Request({ linger: 0, ...options });
  socket.connect(endpoint);
  return new RawPeer(socket);
}

/** A ROUTER bound to `endpoint` (default `tcp://127.0.0.1:*`); read `peer.endpoint`. */
export async function rawRouter(
  endpoint = 'tcp://127.0.0.1:*',
  options: zmq.SocketOptions<zmq.Router> = {},
): Promise<RawPeer<zmq.Router> & { endpoint: string }> {
  const socket = new zmq.Router({ linger: 0, ...options });
  await socket.bind(endpoint);
  const peer = new RawPeer(socket) as RawPeer<zmq.Router> & { endpoint: string };
  peer.endpoint = socket.lastEndpoint ?? endpoint;
  return peer;
}

/** A deterministic PRNG (mulberry32), so fuzz failures can be replayed from their seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Random messages for fuzzing a protocol endpoint: mostly garbage, with a share built from the
 * given `vocabulary` frames (real headers and command bytes) so the parser's deeper branches are hit.
 */
export function randomMessage(random: () => number, vocabulary: readonly Buffer[] = []): Buffer[] {
  const count = Math.floor(random() * 8);
  const frames: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const roll = random();
    if (roll < 0.45 && vocabulary.length > 0) {
      frames.push(vocabulary[Math.floor(random() * vocabulary.length)] as Buffer);
    } else if (roll < 0.6) {
      frames.push(Buffer.alloc(0));
    } else {
      const size = random() < 0.95 ? Math.floor(random() * 40) : Math.floor(random() * 70_000);
      const bytes = Buffer.allocUnsafe(size);
      for (let j = 0; j < size; j++) bytes[j] = Math.floor(random() * 256);
      frames.push(bytes);
    }
  }
  return frames;
}
