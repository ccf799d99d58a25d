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
 * sends READY again; the client's retry recovers the request. The handler's `signal` aborts when
 * the worker closes.
 */
import * as zmq from 'zeromq';
import {
  ClosedError,
  Component,
  replyFrames,
  resolveOptions,
  rules,
  toError,
  type ConnectedEvent,
  type DisconnectedEvent,
  type Logger,
  type Message,
  type ReconnectingEvent,
  type RequestHandler,
  type SecurityOptions,
} from '@zpatterns/core';
import { applyConnectSecurity, Channel, componentLogger, describe, EMPTY, toBuffer } from '@zpatterns/core/internal';
import { decodeSimpleRequest, encodeReply, encodeSimpleReady } from './protocol.js';
import { required } from './option-rules.js';

/** Options of `new SimplePirateWorker(options)`; `simplePirateWorkerDefaults` holds the defaults. */
export interface SimplePirateWorkerOptions {
  /** The queue's backend endpoint, e.g. `tcp://127.0.0.1:5561`. */
  queue: string;
  /**
   * Answers each request: the body in, one frame or several out (an empty reply is sent as one
   * empty frame). Its `signal` aborts when the worker closes.
   */
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
export const simplePirateWorkerDefaults = {
  lingerMs: 0,
} as const;

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

/**
 * What `status()` yields besides `started` and `closed`: the queue handed this socket its first
 * request (`connected`: Simple Pirate has no heartbeats, so a request is the only answer), the
 * socket dropped after a handler error or a bad request (`disconnected`, `reason: 'error'`), and
 * the new socket that replaces it at once (`reconnecting`, `delayMs: 0`).
 */
export type SimplePirateWorkerStatus = ConnectedEvent | DisconnectedEvent | ReconnectingEvent;

/**
 * Simple Pirate worker (the book's spworker): a REQ socket that sends READY once, then answers
 * each request the queue hands it with `handler`, one at a time. No heartbeats: a restarted queue
 * does not know this worker until it reconnects. A handler that throws makes the worker discard
 * its socket and send READY on a new one (the client's retry recovers the request).
 * `new SimplePirateWorker({ queue, handler })` opens nothing and throws `InvalidArgumentError` for
 * a bad option; `start()` resolves once the REQ socket is connecting and READY is queued (ready).
 */
export class SimplePirateWorker extends Component<SimplePirateWorkerStatus> {
  readonly #stats: SimplePirateWorkerStats = {
    requests: 0,
    replies: 0,
    handlerErrors: 0,
    malformed: 0,
    sockets: 0,
  };
  readonly #queue: string;
  readonly #handler: RequestHandler;
  readonly #lingerMs: number;
  readonly #routingId: string | undefined;
  readonly #security: SecurityOptions | undefined;
  readonly #log: Logger;
  /** Aborts when the worker closes: the handlers' `signal`. */
  readonly #closing = new AbortController();
  #channel: Channel<zmq.Request> | undefined;
  /** Whether the queue has handed the current socket a request. */
  #answered = false;

  constructor(options: SimplePirateWorkerOptions) {
    super();
    const o = resolveOptions('SimplePirateWorker', options, simplePirateWorkerDefaults, {
      lingerMs: rules.nonNegative,
      routingId: rules.nonEmptyString,
    });
    this.#queue = required('SimplePirateWorker', 'queue', o.queue, rules.nonEmptyString);
    this.#handler = required('SimplePirateWorker', 'handler', o.handler, rules.function);
    this.#lingerMs = o.lingerMs;
    this.#routingId = o.routingId;
    this.#security = o.security;
    this.#log = componentLogger(o.logger, { component: 'spworker', queue: this.#queue });
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
    this.#closing.abort(new ClosedError('SimplePirateWorker'));
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
    this.#answered = false;
    void channel.start((message) => this.#onRequest(message, channel));
    channel.post(encodeSimpleReady());
    this.#log.info({ session: this.#stats.sockets }, 'READY sent');
  }

  async #onRequest(message: Message, channel: Channel<zmq.Request>): Promise<void> {
    if (channel !== this.#channel) return;
    if (!this.#answered) {
      this.#answered = true;
      this.emit({ type: 'connected', peer: this.#queue, session: this.#stats.sockets });
    }
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
      const frames = replyFrames(await this.#handler(decoded.body, { signal: this.#closing.signal }));
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
    const session = this.#stats.sockets;
    this.emit({ type: 'disconnected', peer: this.#queue, reason: 'error', session });
    this.emit({ type: 'reconnecting', peer: this.#queue, attempt: 1, delayMs: 0 });
    this.#open();
  }
}
