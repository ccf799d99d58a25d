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
 *   of anything queued), wait reconnectDelay(attempt) (1 s doubling to 32 s), open a new DEALER
 *   and send READY again. Any message from the queue resets the backoff.
 *
 * Requests are handled one at a time, in arrival order. A handler that throws does not stop the
 * worker: the request is dropped (the client's retry recovers it) and the worker sends READY
 * again so the queue knows it is free. Heartbeats keep flowing while a handler runs. The
 * handler's `signal` aborts when its socket is dropped (its reply could not be sent) or the
 * worker closes.
 */
import * as zmq from 'zeromq';
import {
  AbortError,
  ClosedError,
  Component,
  exponentialBackoff,
  GaveUpError,
  replyFrames,
  resolveOptions,
  rules,
  systemClock,
  toError,
  type Clock,
  type ConnectedEvent,
  type DisconnectedEvent,
  type Logger,
  type Message,
  type ReconnectingEvent,
  type RequestHandler,
  type RetryDelay,
  type SecurityOptions,
  type TimerHandle,
} from '@zpatterns/core';
import {
  applyConnectSecurity,
  Channel,
  componentLogger,
  describe,
  EMPTY,
  toBuffer,
  Deque,
  Heartbeat,
} from '@zpatterns/core/internal';
import {
  PPP_HEARTBEAT_INTERVAL_MS,
  PPP_HEARTBEAT_LIVENESS,
  PPP_RECONNECT_INITIAL_MS,
  PPP_RECONNECT_MAX_MS,
} from './defaults.js';
import { decodePppQueueMessage, encodePppReady, encodePppWorkerHeartbeat, encodeReply } from './protocol.js';
import { required } from './option-rules.js';

/**
 * Options of `new ParanoidPirateWorker(options)`; `paranoidPirateWorkerDefaults` holds the defaults.
 */
export interface ParanoidPirateWorkerOptions {
  /** The queue's backend endpoint, e.g. `tcp://127.0.0.1:5561`. */
  queue: string;
  /**
   * Answers each request: the body in, one frame or several out (an empty reply is sent as one
   * empty frame). Its `signal` aborts when the reply can no longer be sent.
   */
  handler: RequestHandler;
  /** Heartbeat period, and the unit of `liveness`. Must match the queue's. @default 1000 */
  heartbeatIntervalMs?: number | undefined;
  /** Silent intervals after which the queue is considered dead. @default 3 */
  liveness?: number | undefined;
  /** Delay before reconnect attempt n (1-based); `null` gives up. @default 1000 ms doubling to 32000 ms, for ever */
  reconnectDelay?: RetryDelay | undefined;
  /** Linger of each DEALER when it is discarded or closed. @default 0 */
  lingerMs?: number | undefined;
  /**
   * CURVE: this side's key pair and the server's public key. Without it the connection is plain.
   * @default undefined (plain)
   */
  security?: SecurityOptions | undefined;
  /** Parent logger. @default silent */
  logger?: Logger | undefined;
  /** Time source for heartbeats and backoff. @default systemClock */
  clock?: Clock | undefined;
}

/** The book's ppworker settings: heartbeat 1000 ms, liveness 3, reconnect 1 s doubling to 32 s. */
export const paranoidPirateWorkerDefaults = {
  heartbeatIntervalMs: PPP_HEARTBEAT_INTERVAL_MS,
  liveness: PPP_HEARTBEAT_LIVENESS,
  reconnectDelay: exponentialBackoff({ initialMs: PPP_RECONNECT_INITIAL_MS, maxMs: PPP_RECONNECT_MAX_MS }),
  lingerMs: 0,
  clock: systemClock,
} as const;

const optionRules = {
  heartbeatIntervalMs: rules.positive,
  liveness: rules.positiveInteger,
  reconnectDelay: rules.function,
  lingerMs: rules.nonNegative,
};

/** Counters of one `ParanoidPirateWorker`. */
export interface ParanoidPirateWorkerStats {
  /** Requests received from the queue. */
  requests: number;
  /** Replies sent. */
  replies: number;
  /** Requests whose handler threw (dropped; the client's retry recovers them). */
  handlerErrors: number;
  /** Replies not sent because the socket they belonged to had been replaced. */
  repliesDiscarded: number;
  /** Messages from the queue that were neither HEARTBEAT nor a request, dropped. */
  malformed: number;
  /** Heartbeats sent to the queue. */
  heartbeatsSent: number;
  /** Heartbeats received from the queue. */
  heartbeatsReceived: number;
  /** Sockets opened after the first one. */
  reconnects: number;
}

/**
 * What `status()` yields besides `started` and `closed`: the queue answered on a new connection
 * (its first heartbeat or request after READY: `connected`), the queue that had answered fell
 * silent for `heartbeatIntervalMs x liveness` (`disconnected`, `reason: 'silent'`), and a new
 * connection scheduled (`reconnecting`, after every silent connection, answered or not).
 */
export type ParanoidPirateWorkerStatus = ConnectedEvent | DisconnectedEvent | ReconnectingEvent;

interface Job {
  generation: number;
  envelope: Buffer[];
  body: Buffer[];
  signal: AbortSignal;
}

/**
 * Paranoid Pirate worker (6/PPP): a DEALER that sends READY, heartbeats the queue every
 * `heartbeatIntervalMs`, answers each request with `handler`, and when the queue has been silent
 * for `liveness` intervals (watched by core's `Heartbeat`) discards its socket and reconnects after
 * `reconnectDelay(attempt)`. `new ParanoidPirateWorker({ queue, handler })` opens nothing and
 * throws `InvalidArgumentError` for a bad option; `start()` resolves once the DEALER is connecting
 * and READY is queued (ready). When the reconnect policy returns `null` the worker closes itself
 * and `closed()` yields core's `GaveUpError` (`attempts`: the connections tried).
 */
export class ParanoidPirateWorker extends Component<ParanoidPirateWorkerStatus> {
  readonly #stats: ParanoidPirateWorkerStats = {
    requests: 0,
    replies: 0,
    handlerErrors: 0,
    repliesDiscarded: 0,
    malformed: 0,
    heartbeatsSent: 0,
    heartbeatsReceived: 0,
    reconnects: 0,
  };
  readonly #queue: string;
  readonly #handler: RequestHandler;
  readonly #o: {
    heartbeatIntervalMs: number;
    liveness: number;
    reconnectDelay: RetryDelay;
    lingerMs: number;
    clock: Clock;
  };
  readonly #security: SecurityOptions | undefined;
  readonly #log: Logger;
  readonly #heartbeat: Heartbeat;
  readonly #jobs = new Deque<Job>();
  #channel: Channel<zmq.Dealer> | undefined;
  /** Aborts when the current connection is dropped: the handlers' `signal`. */
  #abandon: AbortController | undefined;
  /** Connections made so far: the events' `session`. */
  #generation = 0;
  /** Whether the queue has answered on the current connection. */
  #answered = false;
  /** Connections that failed since the queue last answered: `reconnecting`'s `attempt`. */
  #attempt = 0;
  #reconnectTimer: TimerHandle | undefined;
  #processing: Promise<void> | undefined;

  constructor(options: ParanoidPirateWorkerOptions) {
    super();
    const { queue, handler, logger, security, ...o } = resolveOptions(
      'ParanoidPirateWorker',
      options,
      paranoidPirateWorkerDefaults,
      optionRules,
    );
    this.#o = o;
    this.#security = security;
    this.#queue = required('ParanoidPirateWorker', 'queue', queue, rules.nonEmptyString);
    this.#handler = required('ParanoidPirateWorker', 'handler', handler, rules.function);
    this.#log = componentLogger(logger, { component: 'ppworker', queue: this.#queue });
    this.#heartbeat = new Heartbeat(
      { beat: () => this.#beat(), expired: (silentMs) => this.#lost(silentMs) },
      { intervalMs: o.heartbeatIntervalMs, liveness: o.liveness, clock: o.clock },
    );
  }

  /** Whether the queue has answered on the current connection (a heartbeat or a request since READY). */
  get connected(): boolean {
    return this.#answered;
  }

  /** A snapshot of the counters; read it again for fresh figures. */
  get stats(): ParanoidPirateWorkerStats {
    return { ...this.#stats };
  }

  /** Open the first DEALER, send READY, start heartbeating. */
  protected async onStart(): Promise<void> {
    this.#connect();
  }

  /** Stop heartbeating and close the socket. Requests not yet answered are dropped. */
  protected async onClose(): Promise<void> {
    this.#answered = false;
    this.#heartbeat.stop();
    if (this.#reconnectTimer !== undefined) this.#o.clock.clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    this.#jobs.clear();
    this.#abandon?.abort(new ClosedError('ParanoidPirateWorker'));
    const channel = this.#channel;
    this.#channel = undefined;
    if (channel !== undefined) await channel.close();
  }

  #connect(): void {
    if (this.closeSignal.aborted) return;
    const generation = ++this.#generation;
    if (generation > 1) this.#stats.reconnects++;
    const socket = new zmq.Dealer({ linger: this.#o.lingerMs });
    applyConnectSecurity(socket, this.#security);
    socket.connect(this.#queue);
    const channel = new Channel(socket, { name: 'dealer', logger: this.#log });
    this.#channel = channel;
    this.#abandon = new AbortController();
    this.#answered = false;
    void channel.start((message) => this.#onMessage(message, generation));
    channel.post(encodePppReady());
    this.#heartbeat.start();
    this.#log.info({ attempt: this.#attempt, session: generation }, 'READY sent');
  }

  #beat(): void {
    if (this.#channel?.post(encodePppWorkerHeartbeat()) === true) this.#stats.heartbeatsSent++;
  }

  /** The queue has been silent too long: discard the socket and reconnect after the backoff. */
  #lost(silentMs: number): void {
    const channel = this.#channel;
    if (channel === undefined || this.closeSignal.aborted) return;
    this.#channel = undefined;
    this.#abandon?.abort(new AbortError('the queue fell silent: the reply cannot be sent'));
    this.#log.warn({ silentMs }, "heartbeat failure, can't reach queue");
    if (this.#answered) {
      this.#answered = false;
      this.emit({ type: 'disconnected', peer: this.#queue, reason: 'silent', silentMs, session: this.#generation });
    }
    void channel.close();
    const attempt = ++this.#attempt;
    const delayMs = this.#o.reconnectDelay(attempt);
    if (delayMs === null) {
      const error = new GaveUpError(`ParanoidPirateWorker (queue ${this.#queue}, see 'reconnectDelay')`, attempt);
      this.#log.error({ err: error }, 'giving up');
      void this.fail(error);
      return;
    }
    this.#log.warn({ attempt, delayMs }, 'reconnect scheduled');
    this.emit({ type: 'reconnecting', peer: this.#queue, attempt, delayMs });
    this.#reconnectTimer = this.#o.clock.setTimeout(() => {
      this.#reconnectTimer = undefined;
      this.#connect();
    }, delayMs);
  }

  #onMessage(message: Message, generation: number): void {
    if (generation !== this.#generation || this.#channel === undefined) return;
    this.#heartbeat.touch();
    if (!this.#answered) {
      this.#answered = true;
      this.#attempt = 0;
      this.#log.info({ session: generation }, 'connected');
      this.emit({ type: 'connected', peer: this.#queue, session: generation });
    }
    const decoded = decodePppQueueMessage(message);
    switch (decoded.type) {
      case 'heartbeat':
        this.#stats.heartbeatsReceived++;
        return;
      case 'request': {
        this.#stats.requests++;
        const signal = (this.#abandon as AbortController).signal;
        this.#jobs.push({ generation, envelope: decoded.envelope, body: decoded.body, signal });
        if (this.#processing === undefined) this.#processing = this.#process();
        return;
      }
      case 'invalid':
        this.#stats.malformed++;
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
          const frames = replyFrames(await this.#handler(job.body, { signal: job.signal }));
          reply = frames.length === 0 ? [EMPTY] : frames.map(toBuffer);
        } catch (caught) {
          this.#stats.handlerErrors++;
          this.#log.warn({ err: toError(caught) }, 'handler threw; request dropped');
          // Tell the queue we are free again; the client's retry recovers the request.
          if (this.#isCurrent(job.generation)) this.#channel?.post(encodePppReady());
          continue;
        }
        if (!this.#isCurrent(job.generation)) {
          this.#stats.repliesDiscarded++;
          this.#log.debug('reply discarded: its socket was replaced');
          continue;
        }
        this.#channel?.post(encodeReply(job.envelope, reply));
        this.#stats.replies++;
      }
    } finally {
      this.#processing = undefined;
    }
  }

  #isCurrent(generation: number): boolean {
    return generation === this.#generation && this.#channel !== undefined;
  }
}
