/**
 * Simple Pirate worker (spworker): a REQ socket that says READY once, then answers whatever the
 * queue hands it, one request at a time.
 *
 *   worker (REQ)                                     queue backend (ROUTER)
 *     [0x01] -------------------------------------> [worker-id][""][0x01]
 *     <--------------------------------------------  [worker-id][""][client-id][""][body...]
 *     [client-id][""][reply...] ------------------> [worker-id][""][client-id][""][reply...]
 *
 * No heartbeats: if the queue restarts, this worker is not re-registered (the book's known
 * weakness); use the Paranoid Pirate worker when that matters. A handler that throws cannot be
 * answered on a REQ socket without a reply, so the worker discards the socket, opens a new one and
 * sends READY again; the client's retry recovers the request.
 */
import * as zmq from 'zeromq';
import {
  applyConnectSecurity,
  Channel,
  Component,
  componentLogger,
  describe,
  EMPTY,
  InvalidArgumentError,
  toBuffer,
  toError,
  type Logger,
  type Message,
  type SecurityOptions,
} from '@zpatterns/core';
import { decodeSimpleRequest, encodeReply, encodeSimpleReady } from './protocol.js';
import type { RequestHandler } from './paranoid-pirate-worker.js';

/** Options of `new SimplePirateWorker(options)`. */
export interface SimplePirateWorkerOptions {
  /** The queue's backend endpoint, e.g. `tcp://127.0.0.1:5561`. */
  queue: string;
  /** Answers each request; see `RequestHandler`. */
  handler: RequestHandler;
  /** Linger of each REQ socket when it is discarded or closed. @default 0 */
  lingerMs?: number | undefined;
  /** Routing id of the socket (the book uses `"%04X-%04X"`). @default chosen by libzmq */
  routingId?: string | undefined;
  /**
   * CURVE: this side's key pair and the server's public key. Without it the connection is plain.
   * @default undefined (plain)
   */
  security?: SecurityOptions | undefined;
  /** Parent logger. @default silent */
  logger?: Logger | undefined;
}

/** Defaults of `SimplePirateWorker`: see `SimplePirateWorkerOptions`. */
export const simplePirateWorkerDefaults: Readonly<{ lingerMs: number }> = {
  lingerMs: 0,
};

/** Counters of one `SimplePirateWorker`. */
export interface SimplePirateWorkerStats {
  /** Requests received from the queue. */
  requests: number;
  /** Replies sent. */
  replies: number;
  /** Requests whose handler threw (dropped; the socket is renewed). */
  handlerErrors: number;
  /** Messages from the queue that were not `[client-id][""][body...]`, dropped. */
  malformed: number;
  /** REQ sockets opened (the first one included). */
  sockets: number;
}

/** What `status()` yields besides `started` and `closed`. */
export type SimplePirateWorkerStatus = {
  /** A new REQ socket connects to the queue and READY is sent (at start, and after a failed request). */
  readonly type: 'connected';
  /** The queue's endpoint. */
  readonly endpoint: string;
  /** REQ sockets opened so far, this one included. */
  readonly socket: number;
};

/**
 * Simple Pirate worker (the book's spworker): a REQ socket that sends READY once, then answers
 * each request the queue hands it with `handler`, one at a time. No heartbeats: a restarted queue
 * does not know this worker until it reconnects. A handler that throws makes the worker discard
 * its socket and send READY on a new one (the client's retry recovers the request).
 * `new SimplePirateWorker({ queue, handler })` opens nothing; `start()` resolves once the REQ
 * socket is connecting and READY is queued (ready).
 */
export class SimplePirateWorker extends Component<SimplePirateWorkerStatus> {
  /** The queue's backend endpoint. */
  readonly #queue: string;
  readonly #stats: SimplePirateWorkerStats = {
    requests: 0,
    replies: 0,
    handlerErrors: 0,
    malformed: 0,
    sockets: 0,
  };
  readonly #handler: RequestHandler;
  readonly #lingerMs: number;
  readonly #routingId: string | undefined;
  readonly #security: SecurityOptions | undefined;
  readonly #log: Logger;
  #channel: Channel<zmq.Request> | undefined;

  constructor(options: SimplePirateWorkerOptions) {
    super();
    const { queue, handler } = options;
    if (typeof queue !== 'string' || queue === '')
      throw new InvalidArgumentError('SimplePirateWorker: queue is required');
    if (typeof handler !== 'function') throw new InvalidArgumentError('SimplePirateWorker: handler must be a function');
    this.#queue = queue;
    this.#handler = handler;
    this.#lingerMs = options.lingerMs ?? simplePirateWorkerDefaults.lingerMs;
    this.#routingId = options.routingId;
    this.#security = options.security;
    this.#log = componentLogger(options.logger, { component: 'spworker', queue });
  }

  /** A snapshot of the counters; read it again for fresh figures. */
  get stats(): SimplePirateWorkerStats {
    return { ...this.#stats };
  }

  /** Open the REQ socket and send READY. */
  protected async onStart(): Promise<void> {
    this.#open();
  }

  /** Close the socket; a request being handled gets no reply. */
  protected async onClose(): Promise<void> {
    const channel = this.#channel;
    this.#channel = undefined;
    await channel?.close();
  }

  #open(): void {
    const socket = new zmq.Request({
      linger: this.#lingerMs,
      ...(this.#routingId === undefined ? {} : { routingId: this.#routingId }),
    });
    applyConnectSecurity(socket, this.#security);
    socket.connect(this.#queue);
    this.#stats.sockets++;
    const channel = new Channel(socket, { name: 'req', logger: this.#log });
    this.#channel = channel;
    void channel.start((message) => this.#onRequest(message, channel));
    channel.post(encodeSimpleReady());
    this.#log.info('connected, READY sent');
    this.emit({ type: 'connected', endpoint: this.#queue, socket: this.#stats.sockets });
  }

  async #onRequest(message: Message, channel: Channel<zmq.Request>): Promise<void> {
    const decoded = decodeSimpleRequest(message);
    if (decoded.type === 'invalid') {
      this.#stats.malformed++;
      this.#log.warn({ reason: decoded.reason, frames: describe(message) }, 'invalid request dropped');
      this.#reopen(channel);
      return;
    }
    this.#stats.requests++;
    let reply: Buffer[];
    try {
      const frames = await this.#handler(decoded.body);
      reply = frames.length === 0 ? [EMPTY] : frames.map(toBuffer);
    } catch (caught) {
      this.#stats.handlerErrors++;
      this.#log.warn({ err: toError(caught) }, 'handler threw; request dropped, socket renewed');
      this.#reopen(channel);
      return;
    }
    if (channel !== this.#channel) return;
    channel.post(encodeReply(decoded.envelope, reply));
    this.#stats.replies++;
  }

  /** REQ must answer before it can read again: when we cannot, start over on a new socket. */
  #reopen(channel: Channel<zmq.Request>): void {
    if (channel !== this.#channel || this.closeSignal.aborted) return;
    this.#channel = undefined;
    void channel.close();
    this.#open();
  }
}
