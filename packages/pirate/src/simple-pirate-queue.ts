/**
 * Simple Pirate queue (spqueue = the load-balancing broker with tcp endpoints): ROUTER frontend for
 * clients, ROUTER backend for REQ workers, worker READY `0x01`, no heartbeats.
 *
 *   client (REQ) --> [frontend]            queue              [backend] <-- worker (REQ)
 *                                               <- [worker-id][""][0x01]                 READY
 *     [client-id][""][body] -> backlog -> LRU -> [worker-id][""][client-id][""][body]    request
 *     [client-id][""][reply] <-                 <- [worker-id][""][client-id][""][reply]  reply = ready again
 *
 * Fair dispatch: the free worker that has been waiting longest gets the next request. A worker is
 * listed at most once. The queue cannot tell when an idle worker dies (no heartbeats): a request
 * sent to it is lost and only the client's retry recovers it, unless the worker's connection is
 * already gone, in which case the send fails at once (`mandatory`) and the request is re-queued.
 */
import {
  Component,
  DEFAULT_MAX_MESSAGE_BYTES,
  NotStartedError,
  resolveOptions,
  rules,
  systemClock,
  type Frames,
  type Logger,
  type Message,
  type DrainedEvent,
  type SaturatedEvent,
  type SecurityOptions,
  type WorkerReadyEvent,
  type WorkerRemovedEvent,
} from '@zpatterns/core';
import { componentLogger, describe, hex } from '@zpatterns/core/internal';
import { DEFAULT_MAX_QUEUED_BYTES } from './backlog.js';
import { bindQueueSockets, QueueCore } from './queue-core.js';
import { DEFAULT_BACKEND, DEFAULT_FRONTEND } from './defaults.js';
import { peerOf } from './log-fields.js';
import { decodeSimpleWorkerMessage, encodeClientReply, encodeSimpleRequestFrames } from './protocol.js';
import { maxMessageBytesRule } from './option-rules.js';

/** Options of `new SimplePirateQueue(options)`; `simplePirateQueueDefaults` holds the defaults. */
export interface SimplePirateQueueOptions {
  /** Where clients connect (ROUTER bind). `tcp://127.0.0.1:*` picks a free port. @default 'tcp://127.0.0.1:5560' */
  frontend?: string | undefined;
  /** Where workers connect (ROUTER bind). @default 'tcp://127.0.0.1:5561' */
  backend?: string | undefined;
  /**
   * Bytes of the requests waiting for a free worker at most; past it NEW requests are refused
   * (dropped, counted in `refused`, one warning per second). As the Paranoid queue's.
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
}

/**
 * The book's spqueue endpoints on loopback (frontend `:5560`, backend `:5561`), backlog capped at 256 MiB.
 */
export const simplePirateQueueDefaults = {
  frontend: DEFAULT_FRONTEND,
  backend: DEFAULT_BACKEND,
  maxQueuedBytes: DEFAULT_MAX_QUEUED_BYTES,
  maxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES,
  lingerMs: 0,
} as const;

const optionRules = {
  frontend: rules.nonEmptyString,
  backend: rules.nonEmptyString,
  maxQueuedBytes: rules.nonNegative,
  maxMessageBytes: maxMessageBytesRule,
  lingerMs: rules.nonNegative,
};

/** Counters of one `SimplePirateQueue`. */
export interface SimplePirateQueueStats {
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
  /** Backend messages that were neither READY nor a reply, dropped. */
  malformedFromWorkers: number;
  /** Workers that sent READY for the first time. */
  workersRegistered: number;
  /** Workers forgotten because a send to them failed. */
  unreachableWorkers: number;
}

/**
 * What a Pirate queue's `status()` yields besides `started` and `closed`: a worker joining
 * (`worker-ready`: its first READY, or for the Paranoid queue its first sign of life after a queue
 * restart; `worker` is its routing id in hex), and a worker forgotten (`worker-removed`,
 * `reason: 'silent'` after `heartbeatIntervalMs x liveness` without a message, Paranoid only, or
 * `'unreachable'` when a send to it failed and its request was put back in the backlog), and the
 * backlog filling up (`saturated` at the first request refused at `maxQueuedBytes`; `queued` and
 * `limit` in bytes) and having room again (`drained`: it took a request again, or emptied).
 */
export type PirateQueueStatus = WorkerReadyEvent | WorkerRemovedEvent | SaturatedEvent | DrainedEvent;

/**
 * Simple Pirate queue (the book's spqueue): a load-balancing ROUTER-ROUTER queue for REQ workers
 * that send READY (`0x01`), without heartbeats. The free worker that has waited longest gets the
 * next request. It cannot tell when an idle worker dies, so a request sent to one is lost until the
 * client retries; use `ParanoidPirateQueue` when that matters. `new SimplePirateQueue(options)`
 * opens nothing; `start()` (or `await SimplePirateQueue.start(options)`) resolves once both
 * sockets are bound and serving (ready), rejecting with the bind error otherwise.
 */
export class SimplePirateQueue extends Component<PirateQueueStatus> {
  readonly #stats: SimplePirateQueueStats = {
    requests: 0,
    dispatched: 0,
    replies: 0,
    refused: 0,
    requeued: 0,
    undeliveredReplies: 0,
    malformedFromClients: 0,
    malformedFromWorkers: 0,
    workersRegistered: 0,
    unreachableWorkers: 0,
  };
  readonly #o: {
    frontend: string;
    backend: string;
    maxQueuedBytes: number;
    maxMessageBytes: number;
    lingerMs: number;
  };
  readonly #security: SecurityOptions | undefined;
  readonly #logger: Logger | undefined;
  readonly #log: Logger;
  /** Free workers in the order they became free (Map keeps insertion order). */
  readonly #ready = new Map<string, Buffer>();
  #core: QueueCore | undefined;
  #endpoints: { frontend: string; backend: string } | undefined;

  constructor(options: SimplePirateQueueOptions = {}) {
    super();
    const { logger, security, ...o } = resolveOptions(
      'SimplePirateQueue',
      options,
      simplePirateQueueDefaults,
      optionRules,
    );
    this.#o = o;
    this.#security = security;
    this.#logger = logger;
    this.#log = componentLogger(logger, { component: 'spqueue' });
  }

  /** The endpoints actually bound (ports resolved); `NotStartedError` before `start()`. */
  get endpoints(): { frontend: string; backend: string } {
    if (this.#endpoints === undefined) throw new NotStartedError('SimplePirateQueue');
    return this.#endpoints;
  }

  /** Free workers. */
  get readyWorkers(): number {
    return this.#ready.size;
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
  get stats(): SimplePirateQueueStats {
    return { ...this.#stats };
  }

  /** Bind both sockets and start serving. */
  protected async onStart(): Promise<void> {
    const sockets = await bindQueueSockets(this.#o, this.#security, this.#logger);
    this.#endpoints = sockets.endpoints;
    this.#log.debug(sockets.endpoints, 'bound');
    this.#core = new QueueCore(
      sockets,
      {
        maxQueuedBytes: this.#o.maxQueuedBytes,
        stats: this.#stats,
        log: this.#log,
        clock: systemClock,
        report: (event) => this.emit(event),
      },
      {
        onMessage: (message) => this.#onWorker(message),
        next: () => this.#next(),
        encodeRequest: encodeSimpleRequestFrames,
        onUnreachable: (err, message) => this.#workerUnreachable(err, message),
      },
    );
  }

  /** Close both sockets; queued requests are dropped. */
  protected async onClose(): Promise<void> {
    const core = this.#core;
    if (core === undefined) return;
    core.stop();
    await core.release();
  }

  #onWorker(message: Message): void {
    const { worker, message: command } = decodeSimpleWorkerMessage(message);
    if (worker === undefined || command.type === 'invalid') {
      this.#stats.malformedFromWorkers++;
      const reason = command.type === 'invalid' ? command.reason : 'empty message';
      this.#log.warn(
        { peer: peerOf(message), reason, frames: describe(message) },
        'invalid message from worker dropped',
      );
      return;
    }
    const key = worker.toString('latin1');
    if (command.type === 'ready') {
      if (!this.#ready.has(key)) {
        this.#stats.workersRegistered++;
        this.#log.info({ worker: hex(worker) }, 'worker ready');
        this.emit({ type: 'worker-ready', worker: hex(worker) });
      }
    } else {
      this.#core?.reply(encodeClientReply(command));
    }
    // Any message means the worker is free: (re)list it at the tail.
    this.#ready.delete(key);
    this.#ready.set(key, worker);
    this.#core?.dispatch();
  }

  /** The free worker that has waited longest, taken off the free list. */
  #next(): Buffer | undefined {
    const first = this.#ready.entries().next();
    if (first.done === true) return undefined;
    const [key, worker] = first.value;
    this.#ready.delete(key);
    return worker;
  }

  #workerUnreachable(err: Error, message: Frames): void {
    const worker = message[0] as Buffer;
    this.#ready.delete(worker.toString('latin1'));
    this.#stats.unreachableWorkers++;
    this.#log.info({ err, worker: hex(worker) }, 'worker unreachable, forgotten');
    this.emit({ type: 'worker-removed', worker: hex(worker), reason: 'unreachable', busy: true });
    this.#core?.requeue(message, 2);
  }
}
