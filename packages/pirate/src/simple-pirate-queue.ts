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
  componentLogger,
  describe,
  hex,
  systemClock,
  type Frames,
  type Logger,
  type SecurityOptions,
  type Message,
} from '@zpatterns/core';
import { CloseOnce } from '@zpatterns/core/internal';
import type { PirateQueueState } from './paranoid-pirate-queue.js';
import { DEFAULT_MAX_QUEUED_BYTES } from './backlog.js';
import { bindQueueSockets, QueueCore, type QueueSockets } from './queue-core.js';
import {
  peerOf,
  decodeSimpleWorkerMessage,
  DEFAULT_BACKEND,
  DEFAULT_FRONTEND,
  encodeClientReply,
  encodeSimpleRequest,
} from './protocol.js';

/** Options of `SimplePirateQueue.start(options)`; `simplePirateQueueDefaults` holds the defaults. */
export interface SimplePirateQueueOptions {
  /** Where clients connect (ROUTER bind). @default 'tcp://127.0.0.1:5560' */
  frontend?: string;
  /** Where workers connect (ROUTER bind). @default 'tcp://127.0.0.1:5561' */
  backend?: string;
  /**
   * Bytes of the requests waiting for a free worker at most; past it NEW requests are refused
   * (dropped, counted in `refusedRequests`, one warning per second). As the Paranoid queue's.
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
}

/**
 * The book's spqueue endpoints on loopback (frontend `:5555`, backend `:5556`), backlog capped at 256 MiB.
 */
export const simplePirateQueueDefaults: Required<Omit<SimplePirateQueueOptions, 'logger' | 'security'>> = {
  frontend: DEFAULT_FRONTEND,
  backend: DEFAULT_BACKEND,
  maxQueuedBytes: DEFAULT_MAX_QUEUED_BYTES,
  lingerMs: 0,
};

/** Counters of one `SimplePirateQueue`, live fields updated in place. */
export interface SimplePirateQueueStats {
  requests: number;
  dispatched: number;
  replies: number;
  /** New requests refused (dropped) because the backlog was at `maxQueuedBytes`. */
  refusedRequests: number;
  requeued: number;
  undeliveredReplies: number;
  invalidFromClients: number;
  invalidFromWorkers: number;
  workersJoined: number;
  workersLost: number;
}

/**
 * Simple Pirate queue (the book's spqueue): a load-balancing ROUTER-ROUTER queue for REQ workers
 * that send READY (`0x01`), without heartbeats. The free worker that has waited longest gets the
 * next request. It cannot tell when an idle worker dies, so a request sent to one is lost until the
 * client retries; use `ParanoidPirateQueue` when that matters. Create it with `await
 * SimplePirateQueue.start(options)`, which binds both sockets.
 */
export class SimplePirateQueue implements AsyncDisposable {
  readonly endpoints: { frontend: string; backend: string };
  readonly stats: SimplePirateQueueStats = {
    requests: 0,
    dispatched: 0,
    replies: 0,
    refusedRequests: 0,
    requeued: 0,
    undeliveredReplies: 0,
    invalidFromClients: 0,
    invalidFromWorkers: 0,
    workersJoined: 0,
    workersLost: 0,
  };
  readonly #log: Logger;
  /** Free workers in the order they became free (Map keeps insertion order). */
  readonly #ready = new Map<string, Buffer>();
  readonly #core: QueueCore;
  readonly #closer = new CloseOnce(() => this.#close());

  private constructor(maxQueuedBytes: number, log: Logger, sockets: QueueSockets) {
    this.#log = log;
    this.endpoints = sockets.endpoints;
    this.#core = new QueueCore(
      sockets,
      { maxQueuedBytes, stats: this.stats, log, clock: systemClock },
      {
        onMessage: (message) => this.#onWorker(message),
        next: () => this.#next(),
        encodeRequest: encodeSimpleRequest,
        onUnreachable: (err, message) => this.#workerUnreachable(err, message),
      },
    );
  }

  /** Bind both sockets and start serving. */
  static async start(options: SimplePirateQueueOptions = {}): Promise<SimplePirateQueue> {
    const { logger, security, ...rest } = options;
    const o = { ...simplePirateQueueDefaults, ...rest };
    const log = componentLogger(logger, { component: 'spqueue' });
    const sockets = await bindQueueSockets(o, security, logger);
    return new SimplePirateQueue(o.maxQueuedBytes, log, sockets);
  }

  /** Free workers. */
  get readyWorkers(): number {
    return this.#ready.size;
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

  /** Close both sockets; queued requests are dropped. Idempotent. */
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
    this.#core.stop();
    await this.#core.release();
  }

  #onWorker(message: Message): void {
    const { worker, message: command } = decodeSimpleWorkerMessage(message);
    if (worker === undefined || command.type === 'invalid') {
      this.stats.invalidFromWorkers++;
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
        this.stats.workersJoined++;
        this.#log.info({ worker: hex(worker) }, 'worker ready');
      }
    } else {
      this.#core.reply(encodeClientReply(command));
    }
    // Any message means the worker is free: (re)list it at the tail.
    this.#ready.delete(key);
    this.#ready.set(key, worker);
    this.#core.dispatch();
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
    this.stats.workersLost++;
    this.#log.info({ err, worker: hex(worker) }, 'worker unreachable, forgotten');
    this.#core.requeue(message, 2);
  }
}
