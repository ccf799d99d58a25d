/**
 * Paranoid Pirate worker (6/PPP): a DEALER that announces itself, heartbeats, and notices when the
 * queue has gone.
 *
 *   worker (DEALER)                                queue (ROUTER)
 *     [0x01] READY ------------------------------->
 *     [0x02] every heartbeatIntervalMs ----------->
 *     <------------------------------------------ [0x02]        (any message = queue alive)
 *     <------------------------------------------ [client-id][""][body...]
 *     [client-id][""][reply...] ------------------>
 *
 *   no message for heartbeatIntervalMs x liveness: close the socket (the book's "brutal" discard
 *   of anything queued), wait reconnectDelayMs(attempt) (1 s doubling to 32 s), open a new DEALER
 *   and send READY again. Any message from the queue resets the backoff.
 *
 * Requests are handled one at a time, in arrival order. A handler that throws does not stop the
 * worker: the request is dropped (the client's retry recovers it) and the worker sends READY
 * again so the queue knows it is free. Heartbeats keep flowing while a handler runs.
 */
import * as zmq from 'zeromq';
import {
  applyConnectSecurity,
  Channel,
  componentLogger,
  Deque,
  describe,
  EMPTY,
  exponentialBackoff,
  Heartbeat,
  systemClock,
  toBuffer,
  toError,
  StatusFeed,
  type Clock,
  type Frames,
  type Logger,
  type Message,
  type RetryDelay,
  type TimerHandle,
  type SecurityOptions,
} from '@zpatterns/core';
import { ReconnectGaveUpError } from './errors.js';
import {
  decodePppQueueMessage,
  encodePppReady,
  encodePppWorkerHeartbeat,
  encodeReply,
  PPP_HEARTBEAT_INTERVAL_MS,
  PPP_HEARTBEAT_LIVENESS,
  PPP_RECONNECT_INITIAL_MS,
  PPP_RECONNECT_MAX_MS,
} from './protocol.js';

/** Turns a request body into reply frames. An empty reply is sent as one empty frame. */
export type RequestHandler = (body: Buffer[]) => Frames | Promise<Frames>;

/**
 * Options of `new ParanoidPirateWorker(queue, handler, options)`; `paranoidPirateWorkerDefaults` holds the defaults.
 */
export interface ParanoidPirateWorkerOptions {
  /** Heartbeat period, and the unit of `liveness`. Must match the queue's. @default 1000 */
  heartbeatIntervalMs?: number;
  /** Silent intervals after which the queue is considered dead. @default 3 */
  liveness?: number;
  /** Delay before reconnect attempt n (1-based); `null` gives up. @default 1000 ms doubling to 32000 ms, for ever */
  reconnectDelayMs?: RetryDelay;
  /** Linger of each DEALER when it is discarded or closed. @default 0 */
  lingerMs?: number;
  /**
   * CURVE: this side's key pair and the server's public key. Without it the connection is plain.
   * @default undefined (plain)
   */
  security?: SecurityOptions | undefined;
  /** Parent logger. @default silent */
  logger?: Logger;
  /** Time source for heartbeats and backoff. @default systemClock */
  clock?: Clock;
}

/** The book's ppworker settings: heartbeat 1000 ms, liveness 3, reconnect 1 s doubling to 32 s. */
export const paranoidPirateWorkerDefaults: Required<Omit<ParanoidPirateWorkerOptions, 'logger' | 'security'>> = {
  heartbeatIntervalMs: PPP_HEARTBEAT_INTERVAL_MS,
  liveness: PPP_HEARTBEAT_LIVENESS,
  reconnectDelayMs: exponentialBackoff({ initialMs: PPP_RECONNECT_INITIAL_MS, maxMs: PPP_RECONNECT_MAX_MS }),
  lingerMs: 0,
  clock: systemClock,
};

/** Counters of one `ParanoidPirateWorker`, live fields updated in place. */
export interface ParanoidPirateWorkerStats {
  requests: number;
  replies: number;
  handlerErrors: number;
  /** Replies not sent because the socket they belonged to had been replaced. */
  repliesDiscarded: number;
  invalidMessages: number;
  heartbeatsSent: number;
  heartbeatsReceived: number;
  /** Sockets opened after the first one. */
  reconnects: number;
}

/** Lifecycle events, from `status()`. */
export type WorkerStatus =
  | { type: 'connected'; attempt: number }
  | { type: 'disconnected'; silentMs: number }
  | { type: 'reconnect:scheduled'; attempt: number; delayMs: number }
  | { type: 'closed'; error?: Error };

/**
 * `'connected'` while the queue is heard from, `'reconnecting'` while waiting to open a new socket,
 * `'closed'` after `close()` or when the reconnect policy gave up.
 */
export type ParanoidPirateWorkerState = 'connected' | 'reconnecting' | 'closed';

type WorkerState =
  | { state: 'connected'; generation: number }
  | { state: 'reconnecting'; attempt: number; delayMs: number }
  | { state: 'closed'; error: Error | undefined };

interface Job {
  generation: number;
  envelope: Buffer[];
  body: Buffer[];
}

/**
 * Paranoid Pirate worker (6/PPP): a DEALER that sends READY, heartbeats the queue every
 * `heartbeatIntervalMs`, answers each request with `handler`, and when the queue has been silent for
 * `liveness` intervals discards its socket and reconnects after `reconnectDelayMs(attempt)`. When
 * that policy returns `null` the worker closes itself and `closed()` yields a `ReconnectGaveUpError`.
 */
export class ParanoidPirateWorker implements AsyncDisposable {
  readonly queue: string;
  readonly stats: ParanoidPirateWorkerStats = {
    requests: 0,
    replies: 0,
    handlerErrors: 0,
    repliesDiscarded: 0,
    invalidMessages: 0,
    heartbeatsSent: 0,
    heartbeatsReceived: 0,
    reconnects: 0,
  };
  readonly #handler: RequestHandler;
  readonly #o: Required<Omit<ParanoidPirateWorkerOptions, 'logger' | 'security'>>;
  readonly #log: Logger;
  readonly #heartbeat: Heartbeat;
  readonly #feed = new StatusFeed<WorkerStatus>();
  readonly #jobs = new Deque<Job>();
  #state: WorkerState;
  #channel: Channel<zmq.Dealer> | undefined;
  #generation = 0;
  /** Consecutive failed connections; reset by any message from the queue. */
  #attempt = 0;
  #reconnectTimer: TimerHandle | undefined;
  #processing: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  readonly #closedSignal: Promise<void>;
  #markClosed: () => void = () => undefined;
  readonly #security: SecurityOptions | undefined;

  /** Connect to the queue's backend at once and send READY. */
  constructor(queue: string, handler: RequestHandler, options: ParanoidPirateWorkerOptions = {}) {
    const { logger, security, ...rest } = options;
    this.#o = { ...paranoidPirateWorkerDefaults, ...rest };
    this.#security = security;
    this.queue = queue;
    this.#handler = handler;
    this.#log = componentLogger(logger, { component: 'ppworker', queue });
    this.#heartbeat = new Heartbeat(
      { beat: () => this.#beat(), expired: (silentMs) => this.#lost(silentMs) },
      { intervalMs: this.#o.heartbeatIntervalMs, liveness: this.#o.liveness, clock: this.#o.clock },
    );
    this.#closedSignal = new Promise<void>((resolve) => {
      this.#markClosed = resolve;
    });
    this.#state = { state: 'connected', generation: 0 };
    this.#connect();
  }

  get state(): ParanoidPirateWorkerState {
    return this.#state.state;
  }

  /** Lifecycle events from now on: connected, disconnected, reconnect:scheduled, closed. */
  status(): AsyncIterableIterator<WorkerStatus> {
    return this.#feed.subscribe();
  }

  /** Stop heartbeating and close the socket. Requests not yet answered are dropped. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown(undefined);
    return this.#closing;
  }

  /** Resolves once closed: `undefined`, or the error that closed the worker (reconnect gave up). */
  async closed(): Promise<void | Error> {
    await this.#closedSignal;
    return this.#state.state === 'closed' ? this.#state.error : undefined;
  }

  /** Same as `close()`, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #shutdown(error: Error | undefined): Promise<void> {
    this.#transition({ state: 'closed', error });
    this.#heartbeat.stop();
    if (this.#reconnectTimer !== undefined) this.#o.clock.clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    this.#jobs.clear();
    const channel = this.#channel;
    this.#channel = undefined;
    if (channel !== undefined) await channel.close();
    this.#feed.emit(error === undefined ? { type: 'closed' } : { type: 'closed', error });
    this.#feed.end();
    this.#markClosed();
  }

  #connect(): void {
    const generation = ++this.#generation;
    if (generation > 1) this.stats.reconnects++;
    const socket = new zmq.Dealer({ linger: this.#o.lingerMs });
    applyConnectSecurity(socket, this.#security);
    socket.connect(this.queue);
    const channel = new Channel(socket, { name: 'dealer', logger: this.#log });
    this.#channel = channel;
    void channel.start((message) => this.#onMessage(message, generation));
    channel.post(encodePppReady());
    this.#heartbeat.start();
    this.#transition({ state: 'connected', generation });
    this.#log.info({ attempt: this.#attempt }, 'connected, READY sent');
    this.#feed.emit({ type: 'connected', attempt: this.#attempt });
  }

  #beat(): void {
    if (this.#channel?.post(encodePppWorkerHeartbeat()) === true) this.stats.heartbeatsSent++;
  }

  /** The queue has been silent too long: discard the socket and reconnect after the backoff. */
  #lost(silentMs: number): void {
    if (this.#state.state !== 'connected') return;
    this.#log.warn({ silentMs }, "heartbeat failure, can't reach queue");
    this.#feed.emit({ type: 'disconnected', silentMs });
    const channel = this.#channel;
    this.#channel = undefined;
    void channel?.close();
    const attempt = ++this.#attempt;
    const delayMs = this.#o.reconnectDelayMs(attempt);
    if (delayMs === null) {
      void this.#shutdownOnce(new ReconnectGaveUpError(attempt - 1));
      return;
    }
    this.#log.warn({ attempt, delayMs }, 'reconnect scheduled');
    this.#transition({ state: 'reconnecting', attempt, delayMs });
    this.#feed.emit({ type: 'reconnect:scheduled', attempt, delayMs });
    this.#reconnectTimer = this.#o.clock.setTimeout(() => {
      this.#reconnectTimer = undefined;
      if (this.#state.state === 'reconnecting') this.#connect();
    }, delayMs);
  }

  #shutdownOnce(error: Error): Promise<void> {
    this.#log.error({ err: error }, 'giving up');
    this.#closing ??= this.#shutdown(error);
    return this.#closing;
  }

  #onMessage(message: Message, generation: number): void {
    if (generation !== this.#generation || this.#state.state !== 'connected') return;
    this.#heartbeat.touch();
    this.#attempt = 0;
    const decoded = decodePppQueueMessage(message);
    switch (decoded.type) {
      case 'heartbeat':
        this.stats.heartbeatsReceived++;
        return;
      case 'request':
        this.stats.requests++;
        this.#jobs.push({ generation, envelope: decoded.envelope, body: decoded.body });
        if (this.#processing === undefined) this.#processing = this.#process();
        return;
      case 'invalid':
        this.stats.invalidMessages++;
        this.#log.warn({ reason: decoded.reason, frames: describe(message) }, 'invalid message from queue dropped');
        return;
      default: {
        const never: never = decoded;
        return never;
      }
    }
  }

  async #process(): Promise<void> {
    // Yield first: a handler that throws synchronously would otherwise finish this whole run
    // before `#processing` is even assigned, leaving it set for ever.
    await Promise.resolve();
    try {
      for (let job = this.#jobs.shift(); job !== undefined; job = this.#jobs.shift()) {
        let reply: Buffer[];
        try {
          const frames = await this.#handler(job.body);
          reply = frames.length === 0 ? [EMPTY] : frames.map(toBuffer);
        } catch (caught) {
          this.stats.handlerErrors++;
          this.#log.warn({ err: toError(caught) }, 'handler threw; request dropped');
          // Tell the queue we are free again; the client's retry recovers the request.
          if (this.#isCurrent(job.generation)) this.#channel?.post(encodePppReady());
          continue;
        }
        if (!this.#isCurrent(job.generation)) {
          this.stats.repliesDiscarded++;
          this.#log.debug('reply discarded: its socket was replaced');
          continue;
        }
        this.#channel?.post(encodeReply(job.envelope, reply));
        this.stats.replies++;
      }
    } finally {
      this.#processing = undefined;
    }
  }

  #isCurrent(generation: number): boolean {
    return this.#state.state === 'connected' && generation === this.#generation && this.#channel !== undefined;
  }

  #transition(next: WorkerState): void {
    const from = this.#state;
    this.#state = next;
    this.#log.debug({ from: from.state, to: next.state }, 'state');
  }
}
