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
 * again so the queue knows it is free. Heartbeats keep flowing while a handler runs.
 */
import * as zmq from 'zeromq';
import {
  applyConnectSecurity,
  Channel,
  Component,
  componentLogger,
  definedOnly,
  Deque,
  describe,
  EMPTY,
  exponentialBackoff,
  Heartbeat,
  InvalidArgumentError,
  systemClock,
  toBuffer,
  toError,
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
  PPP_HEARTBEAT_INTERVAL_MS,
  PPP_HEARTBEAT_LIVENESS,
  PPP_RECONNECT_INITIAL_MS,
  PPP_RECONNECT_MAX_MS,
} from './defaults.js';
import { decodePppQueueMessage, encodePppReady, encodePppWorkerHeartbeat, encodeReply } from './protocol.js';
import type { Settings } from './settings.js';

/** Turns a request body into reply frames. An empty reply is sent as one empty frame. */
export type RequestHandler = (body: Buffer[]) => Frames | Promise<Frames>;

/**
 * Options of `new ParanoidPirateWorker(options)`; `paranoidPirateWorkerDefaults` holds the defaults.
 */
export interface ParanoidPirateWorkerOptions {
  /** The queue's backend endpoint, e.g. `tcp://127.0.0.1:5561`. */
  queue: string;
  /** Answers each request; see `RequestHandler`. */
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

type WorkerSettings = Settings<Omit<ParanoidPirateWorkerOptions, 'queue' | 'handler' | 'logger' | 'security'>>;

/** The book's ppworker settings: heartbeat 1000 ms, liveness 3, reconnect 1 s doubling to 32 s. */
export const paranoidPirateWorkerDefaults = {
  heartbeatIntervalMs: PPP_HEARTBEAT_INTERVAL_MS,
  liveness: PPP_HEARTBEAT_LIVENESS,
  reconnectDelay: exponentialBackoff({ initialMs: PPP_RECONNECT_INITIAL_MS, maxMs: PPP_RECONNECT_MAX_MS }),
  lingerMs: 0,
  clock: systemClock,
} as const satisfies WorkerSettings;

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

/** What `status()` yields besides `started` and `closed`. */
export type ParanoidPirateWorkerStatus =
  | {
      /** A new DEALER connects to the queue and READY is sent (at start, and after each reconnect delay). */
      readonly type: 'connected';
      /** The queue's endpoint. */
      readonly endpoint: string;
      /** Failed connections before this one since the queue was last heard (0 at start). */
      readonly attempt: number;
    }
  | {
      /** The queue was silent for `heartbeatIntervalMs x liveness`: the socket is discarded. */
      readonly type: 'disconnected';
      /** The queue's endpoint. */
      readonly server: string;
      /** Always `'silent'`: no message from the queue in time. */
      readonly reason: 'silent';
      /** How long the queue had been silent (ms). */
      readonly silentMs: number;
    }
  | {
      /** A new socket is opened after `delayMs`. */
      readonly type: 'reconnecting';
      /** Reconnect attempt, 1-based; reset by any message from the queue. */
      readonly attempt: number;
      /** The wait before it (ms), from `reconnectDelay`. */
      readonly delayMs: number;
    };

interface Job {
  generation: number;
  envelope: Buffer[];
  body: Buffer[];
}

/**
 * Paranoid Pirate worker (6/PPP): a DEALER that sends READY, heartbeats the queue every
 * `heartbeatIntervalMs`, answers each request with `handler`, and when the queue has been silent for
 * `liveness` intervals (watched by core's `Heartbeat`) discards its socket and reconnects after
 * `reconnectDelay(attempt)`. `new ParanoidPirateWorker({ queue, handler })` opens nothing;
 * `start()` resolves once the DEALER is connecting and READY is queued (ready). When the reconnect
 * policy returns `null` the worker closes itself and `closed()` yields a `ReconnectGaveUpError`.
 * `status()` reports `connected`, `disconnected` and `reconnecting`.
 */
export class ParanoidPirateWorker extends Component<ParanoidPirateWorkerStatus> {
  /** The queue's backend endpoint. */
  readonly #queue: string;
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
  readonly #handler: RequestHandler;
  readonly #o: WorkerSettings;
  readonly #log: Logger;
  readonly #heartbeat: Heartbeat;
  readonly #jobs = new Deque<Job>();
  #connected = false;
  #channel: Channel<zmq.Dealer> | undefined;
  #generation = 0;
  /** Consecutive failed connections; reset by any message from the queue. */
  #attempt = 0;
  #reconnectTimer: TimerHandle | undefined;
  #processing: Promise<void> | undefined;
  readonly #security: SecurityOptions | undefined;

  constructor(options: ParanoidPirateWorkerOptions) {
    super();
    const { queue, handler, logger, security, ...rest } = options;
    if (typeof queue !== 'string' || queue === '')
      throw new InvalidArgumentError('ParanoidPirateWorker: queue is required');
    if (typeof handler !== 'function')
      throw new InvalidArgumentError('ParanoidPirateWorker: handler must be a function');
    this.#o = { ...paranoidPirateWorkerDefaults, ...definedOnly(rest) };
    this.#security = security;
    this.#queue = queue;
    this.#handler = handler;
    this.#log = componentLogger(logger, { component: 'ppworker', queue });
    // Validates intervalMs and liveness (InvalidArgumentError); starts nothing.
    this.#heartbeat = new Heartbeat(
      { beat: () => this.#beat(), expired: (silentMs) => this.#lost(silentMs) },
      { intervalMs: this.#o.heartbeatIntervalMs, liveness: this.#o.liveness, clock: this.#o.clock },
    );
  }

  /** Whether a socket is open to the queue (false while waiting to reconnect, before start and after close). */
  get connected(): boolean {
    return this.#connected;
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
    this.#connected = false;
    this.#heartbeat.stop();
    if (this.#reconnectTimer !== undefined) this.#o.clock.clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    this.#jobs.clear();
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
    void channel.start((message) => this.#onMessage(message, generation));
    channel.post(encodePppReady());
    this.#heartbeat.start();
    this.#connected = true;
    this.#log.info({ attempt: this.#attempt }, 'connected, READY sent');
    this.emit({ type: 'connected', endpoint: this.#queue, attempt: this.#attempt });
  }

  #beat(): void {
    if (this.#channel?.post(encodePppWorkerHeartbeat()) === true) this.#stats.heartbeatsSent++;
  }

  /** The queue has been silent too long: discard the socket and reconnect after the backoff. */
  #lost(silentMs: number): void {
    if (!this.#connected || this.closeSignal.aborted) return;
    this.#connected = false;
    this.#log.warn({ silentMs }, "heartbeat failure, can't reach queue");
    this.emit({ type: 'disconnected', server: this.#queue, reason: 'silent', silentMs });
    const channel = this.#channel;
    this.#channel = undefined;
    void channel?.close();
    const attempt = ++this.#attempt;
    const delayMs = this.#o.reconnectDelay(attempt);
    if (delayMs === null) {
      const error = new ReconnectGaveUpError(attempt - 1);
      this.#log.error({ err: error }, 'giving up');
      void this.fail(error);
      return;
    }
    this.#log.warn({ attempt, delayMs }, 'reconnect scheduled');
    this.emit({ type: 'reconnecting', attempt, delayMs });
    this.#reconnectTimer = this.#o.clock.setTimeout(() => {
      this.#reconnectTimer = undefined;
      this.#connect();
    }, delayMs);
  }

  #onMessage(message: Message, generation: number): void {
    if (generation !== this.#generation || !this.#connected) return;
    this.#heartbeat.touch();
    this.#attempt = 0;
    const decoded = decodePppQueueMessage(message);
    switch (decoded.type) {
      case 'heartbeat':
        this.#stats.heartbeatsReceived++;
        return;
      case 'request':
        this.#stats.requests++;
        this.#jobs.push({ generation, envelope: decoded.envelope, body: decoded.body });
        if (this.#processing === undefined) this.#processing = this.#process();
        return;
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
          const frames = await this.#handler(job.body);
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
    return this.#connected && generation === this.#generation && this.#channel !== undefined;
  }
}
