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
  componentLogger,
  describe,
  EMPTY,
  toBuffer,
  toError,
  type Logger,
  type Message,
  type SecurityOptions,
} from '@zpatterns/core';
import { CloseOnce } from '@zpatterns/core/internal';
import { decodeSimpleRequest, encodeReply, encodeSimpleReady } from './protocol.js';
import type { RequestHandler } from './paranoid-pirate-worker.js';

/** Options of `new SimplePirateWorker(queue, handler, options)`. */
export interface SimplePirateWorkerOptions {
  /** Linger of each REQ socket when it is discarded or closed. @default 0 */
  lingerMs?: number;
  /** Routing id of the socket (the book uses `"%04X-%04X"`). @default chosen by libzmq */
  routingId?: string;
  /**
   * CURVE: this side's key pair and the server's public key. Without it the connection is plain.
   * @default undefined (plain)
   */
  security?: SecurityOptions | undefined;
  /** Parent logger. @default silent */
  logger?: Logger;
}

/** Defaults of `SimplePirateWorker`: see `SimplePirateWorkerOptions`. */
export const simplePirateWorkerDefaults: Required<
  Omit<SimplePirateWorkerOptions, 'logger' | 'routingId' | 'security'>
> = {
  lingerMs: 0,
};

/** Counters of one `SimplePirateWorker`, live fields updated in place. */
export interface SimplePirateWorkerStats {
  requests: number;
  replies: number;
  handlerErrors: number;
  invalidMessages: number;
  /** REQ sockets opened (the first one included). */
  sockets: number;
}

/** `'serving'` from construction until `close()`, then `'closed'`. */
export type SimplePirateWorkerState = 'serving' | 'closed';

type WorkerState = { state: 'serving'; generation: number } | { state: 'closed' };

/**
 * Simple Pirate worker (the book's spworker): a REQ socket that sends READY once, then answers
 * each request the queue hands it with `handler`, one at a time. No heartbeats: a restarted queue
 * does not know this worker until it reconnects. A handler that throws makes the worker discard
 * its socket and send READY on a new one (the client's retry recovers the request).
 */
export class SimplePirateWorker implements AsyncDisposable {
  readonly queue: string;
  readonly stats: SimplePirateWorkerStats = {
    requests: 0,
    replies: 0,
    handlerErrors: 0,
    invalidMessages: 0,
    sockets: 0,
  };
  readonly #handler: RequestHandler;
  readonly #lingerMs: number;
  readonly #routingId: string | undefined;
  readonly #security: SecurityOptions | undefined;
  readonly #log: Logger;
  #state: WorkerState = { state: 'serving', generation: 0 };
  #channel: Channel<zmq.Request> | undefined;
  readonly #closer = new CloseOnce(() => this.#close());

  /** Connect to the queue's backend at once and send READY. */
  constructor(queue: string, handler: RequestHandler, options: SimplePirateWorkerOptions = {}) {
    this.queue = queue;
    this.#handler = handler;
    this.#lingerMs = options.lingerMs ?? simplePirateWorkerDefaults.lingerMs;
    this.#routingId = options.routingId;
    this.#security = options.security;
    this.#log = componentLogger(options.logger, { component: 'spworker', queue });
    this.#open();
  }

  get state(): SimplePirateWorkerState {
    return this.#state.state;
  }

  /** Close the socket; a request being handled gets no reply. Idempotent. */
  close(): Promise<void> {
    return this.#closer.close();
  }

  /**
   * Resolves once the worker has closed, never rejects: `undefined` after `close()`, or the error
   * that `close()` itself ran into.
   */
  closed(): Promise<void | Error> {
    return this.#closer.closed();
  }

  /** Same as `close()`, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #close(): Promise<void> {
    this.#transition({ state: 'closed' });
    const channel = this.#channel;
    this.#channel = undefined;
    await channel?.close();
  }

  #open(): void {
    const generation = this.#state.state === 'serving' ? this.#state.generation + 1 : 0;
    const socket = new zmq.Request({
      linger: this.#lingerMs,
      ...(this.#routingId === undefined ? {} : { routingId: this.#routingId }),
    });
    applyConnectSecurity(socket, this.#security);
    socket.connect(this.queue);
    this.stats.sockets++;
    const channel = new Channel(socket, { name: 'req', logger: this.#log });
    this.#channel = channel;
    this.#transition({ state: 'serving', generation });
    void channel.start((message) => this.#onRequest(message, channel));
    channel.post(encodeSimpleReady());
    this.#log.info('connected, READY sent');
  }

  async #onRequest(message: Message, channel: Channel<zmq.Request>): Promise<void> {
    const decoded = decodeSimpleRequest(message);
    if (decoded.type === 'invalid') {
      this.stats.invalidMessages++;
      this.#log.warn({ reason: decoded.reason, frames: describe(message) }, 'invalid request dropped');
      this.#reopen(channel);
      return;
    }
    this.stats.requests++;
    let reply: Buffer[];
    try {
      const frames = await this.#handler(decoded.body);
      reply = frames.length === 0 ? [EMPTY] : frames.map(toBuffer);
    } catch (caught) {
      this.stats.handlerErrors++;
      this.#log.warn({ err: toError(caught) }, 'handler threw; request dropped, socket renewed');
      this.#reopen(channel);
      return;
    }
    if (channel !== this.#channel) return;
    channel.post(encodeReply(decoded.envelope, reply));
    this.stats.replies++;
  }

  /** REQ must answer before it can read again: when we cannot, start over on a new socket. */
  #reopen(channel: Channel<zmq.Request>): void {
    if (channel !== this.#channel || this.#state.state === 'closed') return;
    this.#channel = undefined;
    void channel.close();
    this.#open();
  }

  #transition(next: WorkerState): void {
    const from = this.#state;
    this.#state = next;
    if (from.state !== next.state) this.#log.debug({ from: from.state, to: next.state }, 'state');
  }
}
