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
 * counted in `stats.refused`, with one warning per second at most. Both ROUTERs use
 * `mandatory` with `sendTimeout: 0`: a request whose worker has vanished comes back at once
 * (EHOSTUNREACH) and is re-queued at the head; a reply whose client has gone is counted and dropped.
 */
import {
  Component,
  DEFAULT_MAX_MESSAGE_BYTES,
  NotStartedError,
  resolveOptions,
  rules,
  systemClock,
  type Clock,
  type Frames,
  type Logger,
  type SecurityOptions,
  type Message,
  type TimerHandle,
} from '@zpatterns/core';
import { componentLogger, describe, hex, WarningLimiter } from '@zpatterns/core/internal';
import { DEFAULT_MAX_QUEUED_BYTES, WARNINGS_PER_SECOND } from './backlog.js';
import { bindQueueSockets, QueueCore } from './queue-core.js';
import { DEFAULT_BACKEND, DEFAULT_FRONTEND, PPP_HEARTBEAT_INTERVAL_MS, PPP_HEARTBEAT_LIVENESS } from './defaults.js';
import { peerOf } from './log-fields.js';
import { encodePppHeartbeat, encodePppRequestFrames, pppWorkerMessageKind } from './protocol.js';
import { maxMessageBytesRule } from './option-rules.js';
import type { PirateQueueStatus } from './simple-pirate-queue.js';
import { WorkerPool } from './worker-pool.js';

/** Options of `new ParanoidPirateQueue(options)`; `paranoidPirateQueueDefaults` holds the defaults. */
export interface ParanoidPirateQueueOptions {
  /** Where clients connect (ROUTER bind). `tcp://127.0.0.1:*` picks a free port. @default 'tcp://127.0.0.1:5560' */
  frontend?: string | undefined;
  /** Where workers connect (ROUTER bind). @default 'tcp://127.0.0.1:5561' */
  backend?: string | undefined;
  /** Heartbeat period, and the unit of `liveness`. Must match the workers'. @default 1000 */
  heartbeatIntervalMs?: number | undefined;
  /** Silent intervals after which a worker is dead. @default 3 */
  liveness?: number | undefined;
  /**
   * Bytes of the requests waiting for a free worker (frames plus about 100 bytes each) at most.
   * Past it NEW requests are refused: dropped (PPP has no error reply; the client's timeout and
   * retry report it), counted in `refused`, one warning per second at most. The accepted
   * ones are kept. 256 MiB holds the book's 100,000 pipelined requests many times over.
   * @default 268435456
   */
  maxQueuedBytes?: number | undefined;
  /**
   * Largest frame a client or worker may send, in bytes: libzmq drops the connection of a peer
   * that announces a bigger one, before reading it. `-1` for no limit. @default 16777216 (16 MiB)
   */
  maxMessageBytes?: number | undefined;
  /** Linger of both sockets on close. @default 0 */
  lingerMs?: number | undefined;
  /**
   * CURVE on both sockets: the queue's key pair and who may connect (`authorize`, checked by ZAP).
   * With it, plain clients and workers are refused. @default undefined (plain)
   */
  security?: SecurityOptions | undefined;
  /** Parent logger. @default silent */
  logger?: Logger | undefined;
  /** Time source for heartbeats and expiry. @default systemClock */
  clock?: Clock | undefined;
}

/**
 * The book's ppqueue settings on loopback: frontend `tcp://127.0.0.1:5560`, backend `:5561`,
 * heartbeat 1000 ms, liveness 3, backlog capped at 256 MiB.
 */
export const paranoidPirateQueueDefaults = {
  frontend: DEFAULT_FRONTEND,
  backend: DEFAULT_BACKEND,
  heartbeatIntervalMs: PPP_HEARTBEAT_INTERVAL_MS,
  liveness: PPP_HEARTBEAT_LIVENESS,
  maxQueuedBytes: DEFAULT_MAX_QUEUED_BYTES,
  maxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES,
  lingerMs: 0,
  clock: systemClock,
} as const;

const optionRules = {
  frontend: rules.nonEmptyString,
  backend: rules.nonEmptyString,
  heartbeatIntervalMs: rules.positive,
  liveness: rules.positiveInteger,
  maxQueuedBytes: rules.nonNegative,
  maxMessageBytes: maxMessageBytesRule,
  lingerMs: rules.nonNegative,
};

/** Counters of one `ParanoidPirateQueue`. */
export interface ParanoidPirateQueueStats {
  /** Valid requests read on the frontend. */
  requests: number;
  /** Requests handed to a worker. */
  dispatched: number;
  /** Worker replies forwarded to their client. */
  replies: number;
  /** New requests refused (dropped) because the backlog was at `maxQueuedBytes`. */
  refused: number;
  /** Requests put back in the backlog because their worker had vanished. */
  requeued: number;
  /** Replies the frontend could not deliver (client gone or at its high-water mark). */
  undeliveredReplies: number;
  /** Frontend messages that were not `[client-id][""][body...]`, dropped. */
  malformedFromClients: number;
  /** Backend messages that were not READY, HEARTBEAT or a reply, dropped. */
  malformedFromWorkers: number;
  /** Workers that joined (first message, or first after they expired). */
  workersRegistered: number;
  /** Workers forgotten after `heartbeatIntervalMs x liveness` of silence. */
  expiredWorkers: number;
  /** Workers forgotten because a send to them failed. */
  unreachableWorkers: number;
  /** Heartbeats sent to workers. */
  heartbeatsSent: number;
  /** Heartbeats received from workers. */
  heartbeatsReceived: number;
}

/**
 * Paranoid Pirate queue (6/PPP): a load-balancing ROUTER-ROUTER queue that heartbeats its DEALER
 * workers and forgets dead ones, so a request never goes to a worker known to be dead. Requests that
 * find no free worker wait in a backlog bounded by `maxQueuedBytes`; past it new requests are dropped
 * (counted and logged; the client's retry handles them). `new ParanoidPirateQueue(options)` opens
 * nothing and throws `InvalidArgumentError` for bad timings; `start()` (or `await
 * ParanoidPirateQueue.start(options)`) resolves once both sockets are bound and the heartbeat runs
 * (ready), rejecting with the bind error otherwise. `status()` reports `worker-ready`,
 * `worker-removed`, `saturated` and `drained`.
 */
export class ParanoidPirateQueue extends Component<PirateQueueStatus> {
  readonly #stats: ParanoidPirateQueueStats = {
    requests: 0,
    dispatched: 0,
    replies: 0,
    refused: 0,
    requeued: 0,
    undeliveredReplies: 0,
    malformedFromClients: 0,
    malformedFromWorkers: 0,
    workersRegistered: 0,
    expiredWorkers: 0,
    unreachableWorkers: 0,
    heartbeatsSent: 0,
    heartbeatsReceived: 0,
  };
  readonly #o: {
    frontend: string;
    backend: string;
    heartbeatIntervalMs: number;
    liveness: number;
    maxQueuedBytes: number;
    maxMessageBytes: number;
    lingerMs: number;
    clock: Clock;
  };
  readonly #security: SecurityOptions | undefined;
  readonly #logger: Logger | undefined;
  readonly #log: Logger;
  readonly #pool: WorkerPool;
  /** Warnings about peers (invalid commands, vanished workers): at most this many a second. */
  readonly #warnings: WarningLimiter;
  #core: QueueCore | undefined;
  #endpoints: { frontend: string; backend: string } | undefined;
  #timer: TimerHandle | undefined;

  constructor(options: ParanoidPirateQueueOptions = {}) {
    super();
    const { logger, security, ...o } = resolveOptions(
      'ParanoidPirateQueue',
      options,
      paranoidPirateQueueDefaults,
      optionRules,
    );
    this.#o = o;
    this.#security = security;
    this.#logger = logger;
    this.#log = componentLogger(logger, { component: 'ppqueue' });
    this.#pool = new WorkerPool(o.heartbeatIntervalMs * o.liveness);
    this.#warnings = new WarningLimiter(this.#log, o.clock, WARNINGS_PER_SECOND);
  }

  /** The endpoints actually bound (ports resolved); `NotStartedError` before `start()`. */
  get endpoints(): { frontend: string; backend: string } {
    if (this.#endpoints === undefined) throw new NotStartedError('ParanoidPirateQueue');
    return this.#endpoints;
  }

  /** Live workers: free and busy. */
  get workers(): { ready: number; busy: number } {
    return { ready: this.#pool.readyCount, busy: this.#pool.busyCount };
  }

  /** Requests waiting for a free worker. */
  get queued(): number {
    return this.#core?.queued ?? 0;
  }

  /** Bytes of the requests waiting, as counted against `maxQueuedBytes`. */
  get queuedBytes(): number {
    return this.#core?.queuedBytes ?? 0;
  }

  /** A snapshot of the counters; read it again for fresh figures. */
  get stats(): ParanoidPirateQueueStats {
    return { ...this.#stats };
  }

  /** Bind both sockets, start serving and heartbeating. */
  protected async onStart(): Promise<void> {
    const o = this.#o;
    const sockets = await bindQueueSockets(o, this.#security, this.#logger);
    this.#endpoints = sockets.endpoints;
    this.#log.debug(sockets.endpoints, 'bound');
    this.#core = new QueueCore(
      sockets,
      {
        maxQueuedBytes: o.maxQueuedBytes,
        stats: this.#stats,
        log: this.#log,
        clock: o.clock,
        report: (event) => this.emit(event),
      },
      {
        onMessage: (message) => this.#onWorker(message),
        next: () => this.#pool.take(o.clock.now(), this.#expired),
        encodeRequest: encodePppRequestFrames,
        onUnreachable: (err, message) => this.#workerUnreachable(err, message),
      },
    );
    this.#schedule();
  }

  /** Stop heartbeating, close both sockets. Queued requests are dropped. */
  protected async onClose(): Promise<void> {
    if (this.#timer !== undefined) this.#o.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    const core = this.#core;
    if (core === undefined) return;
    const dropped = core.stop();
    if (dropped > 0) this.#log.info({ dropped }, 'closed with requests queued');
    await core.release();
  }

  #onWorker(message: Message): void {
    const worker = message[0];
    const command = pppWorkerMessageKind(message);
    if (worker === undefined || typeof command !== 'string') {
      this.#stats.malformedFromWorkers++;
      const reason = typeof command !== 'string' ? command.reason : 'empty message';
      this.#warnings.warn(
        { peer: peerOf(message), reason, frames: describe(message) },
        'invalid message from worker dropped',
      );
      return;
    }
    const now = this.#o.clock.now();
    switch (command) {
      case 'ready': {
        const change = this.#pool.ready(worker, now);
        if (change === 'joined') this.#joined(worker, 'ready');
        else if (change === 'freed')
          this.#warnings.warn({ worker: hex(worker) }, 'busy worker sent READY; its request is lost');
        break;
      }
      case 'heartbeat': {
        this.#stats.heartbeatsReceived++;
        if (this.#pool.heartbeat(worker, now) === 'joined') this.#joined(worker, 'heartbeat');
        break;
      }
      case 'reply': {
        if (this.#pool.replied(worker, now) === 'joined') this.#joined(worker, 'reply');
        // The frames after the worker's identity, as they came (checked: an envelope and a body).
        this.#core?.reply(message.slice(1));
        break;
      }
      default: {
        const never: never = command;
        return never;
      }
    }
    this.#core?.dispatch();
  }

  #joined(worker: Buffer, via: string): void {
    this.#stats.workersRegistered++;
    this.#log.info({ worker: hex(worker), via }, 'worker ready');
    this.emit({ type: 'worker-ready', worker: hex(worker) });
  }

  readonly #expired = (worker: Buffer, wasBusy: boolean): void => {
    this.#stats.expiredWorkers++;
    this.#log.info({ worker: hex(worker), wasBusy }, 'worker expired');
    this.emit({ type: 'worker-removed', worker: hex(worker), reason: 'silent', busy: wasBusy });
  };

  /** A send to a worker failed: it is gone. Forget it; put its request back at the head. */
  #workerUnreachable(err: Error, message: Frames): void {
    const worker = message[0] as Buffer;
    const busy = this.#pool.isBusy(worker);
    if (this.#pool.remove(worker)) {
      this.#stats.unreachableWorkers++;
      this.emit({ type: 'worker-removed', worker: hex(worker), reason: 'unreachable', busy });
    }
    this.#warnings.warn({ err, worker: hex(worker) }, 'worker unreachable, forgotten');
    if (message.length > 2) this.#core?.requeue(message, 1);
  }

  #schedule(): void {
    this.#timer = this.#o.clock.setTimeout(this.#tick, this.#o.heartbeatIntervalMs);
  }

  readonly #tick = (): void => {
    this.#timer = undefined;
    const core = this.#core;
    if (core === undefined || core.stopped) return;
    this.#pool.purge(this.#o.clock.now(), this.#expired);
    for (const worker of this.#pool.all()) {
      this.#stats.heartbeatsSent++;
      core.toWorker(encodePppHeartbeat(worker));
    }
    this.#schedule();
  };
}
