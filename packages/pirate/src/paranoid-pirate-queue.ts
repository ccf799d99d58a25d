/**
 * Paranoid Pirate queue (6/PPP): a load-balancing queue that heartbeats its workers and forgets
 * the dead ones.
 *
 *   clients (REQ/DEALER) --> [frontend ROUTER]  queue  [backend ROUTER] <-- workers (DEALER)
 *     [client-id][""][body]  ->  backlog -> LRU free worker ->  [worker-id][client-id][""][body]
 *     [client-id][""][reply] <-                              <-  [worker-id][client-id][""][reply]
 *                                every heartbeatIntervalMs  ->  [worker-id][0x02] to every live worker
 *                                READY [0x01] / HEARTBEAT [0x02] <- workers
 *
 * Workers expire `heartbeatIntervalMs x liveness` after their last message and are purged before
 * every dispatch, so a request never goes to a worker known to be dead. Requests that arrive while
 * no worker is free wait in a backlog bounded by bytes (`maxQueuedBytes`, 256 MiB); past it NEW
 * requests are refused (dropped: PPP has no error reply, the client's timeout and retry handle it),
 * counted in `refusedRequests`, with one warning per second at most. Both ROUTERs use
 * `mandatory` with `sendTimeout: 0`: a request whose worker has vanished comes back at once
 * (EHOSTUNREACH) and is re-queued at the head; a reply whose client has gone is counted and dropped.
 */
import {
  InvalidArgumentError,
  componentLogger,
  describe,
  hex,
  systemClock,
  type Clock,
  type Frames,
  type Logger,
  type SecurityOptions,
  type Message,
  type TimerHandle,
  WarningLimiter,
} from '@zpatterns/core';
import { CloseOnce } from '@zpatterns/core/internal';
import { DEFAULT_MAX_QUEUED_BYTES, WARNINGS_PER_SECOND } from './backlog.js';
import { bindQueueSockets, QueueCore, type QueueSockets } from './queue-core.js';
import {
  peerOf,
  decodePppWorkerMessage,
  DEFAULT_BACKEND,
  DEFAULT_FRONTEND,
  encodeClientReply,
  encodePppHeartbeat,
  encodePppRequest,
  PPP_HEARTBEAT_INTERVAL_MS,
  PPP_HEARTBEAT_LIVENESS,
} from './protocol.js';
import { WorkerPool } from './worker-pool.js';

/** Options of `ParanoidPirateQueue.start(options)`; `paranoidPirateQueueDefaults` holds the defaults. */
export interface ParanoidPirateQueueOptions {
  /** Where clients connect (ROUTER bind). `tcp://127.0.0.1:*` picks a free port. @default 'tcp://127.0.0.1:5560' */
  frontend?: string;
  /** Where workers connect (ROUTER bind). @default 'tcp://127.0.0.1:5561' */
  backend?: string;
  /** Heartbeat period, and the unit of `liveness`. Must match the workers'. @default 1000 */
  heartbeatIntervalMs?: number;
  /** Silent intervals after which a worker is dead. @default 3 */
  liveness?: number;
  /**
   * Bytes of the requests waiting for a free worker (frames plus about 100 bytes each) at most.
   * Past it NEW requests are refused: dropped (PPP has no error reply; the client's timeout and
   * retry report it), counted in `refusedRequests`, one warning per second at most. The accepted
   * ones are kept. 256 MiB holds the book's 100,000 pipelined requests many times over.
   * @default 268435456
   */
  maxQueuedBytes?: number;
  /** Linger of both sockets on close. @default 0 */
  lingerMs?: number;
  /**
   * CURVE on both sockets: the queue's key pair and who may connect (`authorize`, checked by ZAP).
   * With it, plain clients and workers are refused. @default undefined (plain)
   */
  security?: SecurityOptions | undefined;
  /** Parent logger. @default silent */
  logger?: Logger;
  /** Time source for heartbeats and expiry. @default systemClock */
  clock?: Clock;
}

/**
 * The book's ppqueue settings on loopback: frontend `tcp://127.0.0.1:5555`, backend `:5556`,
 * heartbeat 1000 ms, liveness 3, backlog capped at 256 MiB.
 */
export const paranoidPirateQueueDefaults: Required<Omit<ParanoidPirateQueueOptions, 'logger' | 'security'>> = {
  frontend: DEFAULT_FRONTEND,
  backend: DEFAULT_BACKEND,
  heartbeatIntervalMs: PPP_HEARTBEAT_INTERVAL_MS,
  liveness: PPP_HEARTBEAT_LIVENESS,
  maxQueuedBytes: DEFAULT_MAX_QUEUED_BYTES,
  lingerMs: 0,
  clock: systemClock,
};

/** Counters of one `ParanoidPirateQueue`, live fields updated in place. */
export interface ParanoidPirateQueueStats {
  requests: number;
  dispatched: number;
  replies: number;
  /** New requests refused (dropped) because the backlog was at `maxQueuedBytes`. */
  refusedRequests: number;
  /** Requests put back in the backlog because their worker had vanished. */
  requeued: number;
  /** Replies the frontend could not deliver (client gone or at its high-water mark). */
  undeliveredReplies: number;
  invalidFromClients: number;
  invalidFromWorkers: number;
  workersJoined: number;
  workersExpired: number;
  /** Workers forgotten because a send to them failed. */
  workersLost: number;
  heartbeatsSent: number;
  heartbeatsReceived: number;
}

/** A Pirate queue's state: `'running'` from `start()` until `close()`, then `'closed'`. */
export type PirateQueueState = 'running' | 'closed';

/**
 * Paranoid Pirate queue (6/PPP): a load-balancing ROUTER-ROUTER queue that heartbeats its DEALER
 * workers and forgets dead ones, so a request never goes to a worker known to be dead. Requests that
 * find no free worker wait in a backlog bounded by `maxQueuedBytes`; past it new requests are dropped
 * (counted and logged; the client's retry handles them). Create it with `await
 * ParanoidPirateQueue.start(options)`, which binds both sockets (rejecting with the bind error) and
 * throws `InvalidArgumentError` for bad timings.
 */
export class ParanoidPirateQueue implements AsyncDisposable {
  /** The endpoints actually bound (ports resolved). */
  readonly endpoints: { frontend: string; backend: string };
  readonly stats: ParanoidPirateQueueStats = {
    requests: 0,
    dispatched: 0,
    replies: 0,
    refusedRequests: 0,
    requeued: 0,
    undeliveredReplies: 0,
    invalidFromClients: 0,
    invalidFromWorkers: 0,
    workersJoined: 0,
    workersExpired: 0,
    workersLost: 0,
    heartbeatsSent: 0,
    heartbeatsReceived: 0,
  };
  readonly #o: Required<Omit<ParanoidPirateQueueOptions, 'logger' | 'security'>>;
  readonly #log: Logger;
  readonly #pool: WorkerPool;
  /** Warnings about peers (invalid commands, vanished workers): at most this many a second. */
  readonly #warnings: WarningLimiter;
  readonly #core: QueueCore;
  #timer: TimerHandle | undefined;
  readonly #closer = new CloseOnce(() => this.#close());

  private constructor(
    o: Required<Omit<ParanoidPirateQueueOptions, 'logger' | 'security'>>,
    log: Logger,
    sockets: QueueSockets,
  ) {
    this.#o = o;
    this.#log = log;
    this.endpoints = sockets.endpoints;
    this.#pool = new WorkerPool(o.heartbeatIntervalMs * o.liveness);
    this.#warnings = new WarningLimiter(log, o.clock, WARNINGS_PER_SECOND);
    this.#core = new QueueCore(
      sockets,
      { maxQueuedBytes: o.maxQueuedBytes, stats: this.stats, log, clock: o.clock },
      {
        onMessage: (message) => this.#onWorker(message),
        next: () => this.#pool.take(this.#o.clock.now(), this.#expired),
        encodeRequest: encodePppRequest,
        onUnreachable: (err, message) => this.#workerUnreachable(err, message),
      },
    );
    this.#schedule();
  }

  /** Bind both sockets and start serving. */
  static async start(options: ParanoidPirateQueueOptions = {}): Promise<ParanoidPirateQueue> {
    const { logger, security, ...rest } = options;
    const o = { ...paranoidPirateQueueDefaults, ...rest };
    if (!(o.heartbeatIntervalMs > 0))
      throw new InvalidArgumentError('ParanoidPirateQueue: heartbeatIntervalMs must be > 0');
    if (!(o.liveness >= 1)) throw new InvalidArgumentError('ParanoidPirateQueue: liveness must be >= 1');
    if (!(o.maxQueuedBytes >= 0)) throw new InvalidArgumentError('ParanoidPirateQueue: maxQueuedBytes must be >= 0');
    const log = componentLogger(logger, { component: 'ppqueue' });
    const sockets = await bindQueueSockets(o, security, logger);
    log.debug(sockets.endpoints, 'bound');
    return new ParanoidPirateQueue(o, log, sockets);
  }

  /** Live workers: free and busy. */
  get workers(): { ready: number; busy: number } {
    return { ready: this.#pool.readyCount, busy: this.#pool.busyCount };
  }

  /** Requests waiting for a free worker. */
  get queued(): number {
    return this.#core.queued;
  }

  /** Bytes of the requests waiting, as counted against `maxQueuedBytes`. */
  get queuedBytes(): number {
    return this.#core.queuedBytes;
  }

  get state(): PirateQueueState {
    return this.#core.state;
  }

  /** Stop heartbeating, close both sockets. Queued requests are dropped. Idempotent. */
  close(): Promise<void> {
    return this.#closer.close();
  }

  /**
   * Resolves once the queue has closed, never rejects: `undefined` after `close()`, or the error
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
    const dropped = this.#core.stop();
    if (this.#timer !== undefined) this.#o.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    if (dropped > 0) this.#log.info({ dropped }, 'closed with requests queued');
    await this.#core.release();
  }

  #onWorker(message: Message): void {
    const { worker, message: command } = decodePppWorkerMessage(message);
    if (worker === undefined || command.type === 'invalid') {
      this.stats.invalidFromWorkers++;
      const reason = command.type === 'invalid' ? command.reason : 'empty message';
      this.#warnings.warn(
        { peer: peerOf(message), reason, frames: describe(message) },
        'invalid message from worker dropped',
      );
      return;
    }
    const now = this.#o.clock.now();
    switch (command.type) {
      case 'ready': {
        const change = this.#pool.ready(worker, now);
        if (change === 'joined') this.#joined(worker, 'ready');
        else if (change === 'freed')
          this.#warnings.warn({ worker: hex(worker) }, 'busy worker sent READY; its request is lost');
        break;
      }
      case 'heartbeat': {
        this.stats.heartbeatsReceived++;
        if (this.#pool.heartbeat(worker, now) === 'joined') this.#joined(worker, 'heartbeat');
        break;
      }
      case 'reply': {
        if (this.#pool.replied(worker, now) === 'joined') this.#joined(worker, 'reply');
        this.#core.reply(encodeClientReply(command));
        break;
      }
      default: {
        const never: never = command;
        return never;
      }
    }
    this.#core.dispatch();
  }

  #joined(worker: Buffer, via: string): void {
    this.stats.workersJoined++;
    this.#log.info({ worker: hex(worker), via }, 'worker ready');
  }

  readonly #expired = (worker: Buffer, wasBusy: boolean): void => {
    this.stats.workersExpired++;
    this.#log.info({ worker: hex(worker), wasBusy }, 'worker expired');
  };

  /** A send to a worker failed: it is gone. Forget it; put its request back at the head. */
  #workerUnreachable(err: Error, message: Frames): void {
    const worker = message[0] as Buffer;
    if (this.#pool.remove(worker)) this.stats.workersLost++;
    this.#warnings.warn({ err, worker: hex(worker) }, 'worker unreachable, forgotten');
    if (message.length > 2) this.#core.requeue(message, 1);
  }

  #schedule(): void {
    this.#timer = this.#o.clock.setTimeout(this.#tick, this.#o.heartbeatIntervalMs);
  }

  readonly #tick = (): void => {
    this.#timer = undefined;
    if (this.#core.state === 'closed') return;
    this.#pool.purge(this.#o.clock.now(), this.#expired);
    for (const worker of this.#pool.all()) {
      this.stats.heartbeatsSent++;
      this.#core.toWorker(encodePppHeartbeat(worker));
    }
    this.#schedule();
  };
}
