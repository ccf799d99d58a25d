/**
 * What the Simple and the Paranoid Pirate queues have in common: two bound ROUTER sockets, the
 * byte-bounded backlog fed from the frontend (invalid and refused requests counted and dropped),
 * dispatch of the backlog to free workers, replies forwarded to clients, requests put back when
 * their worker has vanished, and close. How workers are tracked and what they send (READY only, or
 * heartbeats too) stays in each queue, behind `QueueWorkers`.
 */
import * as zmq from 'zeromq';
import { type Clock, type Frames, type Logger, type Message, type SecurityOptions } from '@zpatterns/core';
import { applyBindSecurity, bindEndpoint, Channel, type ServerSecurity } from '@zpatterns/core/internal';
import { Backlog, Intake, type BacklogEvent, type IntakeStats, type Request } from './backlog.js';
import { envelopeDelimiter } from './protocol.js';

/** The counters every Pirate queue keeps for its backlog and its frontend. */
export interface QueueCoreStats extends IntakeStats {
  /** Requests handed to a worker. */
  dispatched: number;
  /** Worker replies forwarded to their client. */
  replies: number;
  /** Requests put back in the backlog because their worker had vanished. */
  requeued: number;
  /** Replies the frontend could not deliver (client gone or at its high-water mark). */
  undeliveredReplies: number;
}

/** Both ROUTER sockets, bound, with their CURVE guards and resolved endpoints. */
export interface QueueSockets {
  frontend: zmq.Router;
  backend: zmq.Router;
  security: ServerSecurity[];
  endpoints: { frontend: string; backend: string };
}

/**
 * Create both ROUTERs (`mandatory`, `sendTimeout: 0`, so a send to a vanished peer fails at once),
 * apply the frame limit and CURVE if asked, and bind them. On failure everything created is closed and the error thrown.
 */
export async function bindQueueSockets(
  o: { frontend: string; backend: string; lingerMs: number; maxMessageBytes: number },
  security: SecurityOptions | undefined,
  logger: Logger | undefined,
): Promise<QueueSockets> {
  const frontend = new zmq.Router({ linger: o.lingerMs, mandatory: true, sendTimeout: 0 });
  const backend = new zmq.Router({ linger: o.lingerMs, mandatory: true, sendTimeout: 0 });
  const guards: ServerSecurity[] = [];
  try {
    for (const socket of [frontend, backend]) {
      const guard = applyBindSecurity(socket, security, logger, o.maxMessageBytes);
      if (guard !== undefined) guards.push(guard);
    }
    await Promise.all(guards.map((guard) => guard.ready()));
    const endpoints = {
      frontend: await bindEndpoint(frontend, o.frontend),
      backend: await bindEndpoint(backend, o.backend),
    };
    return { frontend, backend, security: guards, endpoints };
  } catch (err) {
    frontend.close();
    backend.close();
    await Promise.all(guards.map((guard) => guard.release()));
    throw err;
  }
}

/** The part of a Pirate queue that knows its workers. */
export interface QueueWorkers {
  /** A message read on the backend. */
  onMessage(message: Message): void;
  /** The free worker next in line, taken off the free list, or `undefined` when none is free. */
  next(): Buffer | undefined;
  /** The backend message that hands `request` (its frames as the frontend read them) to `worker`. */
  encodeRequest(worker: Buffer, request: Request): Frames;
  /** A send on the backend failed: its worker is gone. */
  onUnreachable(err: Error, message: Frames): void;
}

/** The shared half of a Pirate queue: sockets, backlog, dispatch, replies and close. */
export class QueueCore {
  readonly #stats: QueueCoreStats;
  readonly #log: Logger;
  readonly #workers: QueueWorkers;
  readonly #backlog: Backlog;
  readonly #intake: Intake;
  readonly #frontend: Channel<zmq.Router>;
  readonly #backend: Channel<zmq.Router>;
  readonly #security: ServerSecurity[];
  #stopped = false;

  constructor(
    sockets: QueueSockets,
    o: {
      maxQueuedBytes: number;
      stats: QueueCoreStats;
      log: Logger;
      clock: Clock;
      report: (event: BacklogEvent) => void;
    },
    workers: QueueWorkers,
  ) {
    this.#stats = o.stats;
    this.#log = o.log;
    this.#workers = workers;
    this.#security = sockets.security;
    this.#backlog = new Backlog(o.maxQueuedBytes);
    this.#intake = new Intake(this.#backlog, o.stats, o.log, o.clock, o.report);
    // Both sockets have `sendTimeout: 0`: `directSend` hands each message to libzmq inside `post()`
    // (no pump, no async hop per message), with the same order and the same send errors.
    this.#frontend = new Channel(sockets.frontend, {
      name: 'frontend',
      logger: o.log,
      directSend: true,
      onSendError: (err) => {
        this.#stats.undeliveredReplies++;
        this.#log.debug({ err }, 'reply undeliverable, dropped');
      },
    });
    this.#backend = new Channel(sockets.backend, {
      name: 'backend',
      logger: o.log,
      directSend: true,
      onSendError: (err, message) => workers.onUnreachable(err, message),
    });
    void this.#frontend.start((message) => {
      if (this.#intake.admit(message)) this.dispatch();
    });
    void this.#backend.start((message) => workers.onMessage(message));
  }

  /** Whether `stop()` has been called. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** Requests waiting for a free worker. */
  get queued(): number {
    return this.#backlog.length;
  }

  /** Bytes of the requests waiting, as counted against `maxQueuedBytes`. */
  get queuedBytes(): number {
    return this.#backlog.bytes;
  }

  /** Forward a worker's reply, already encoded for the frontend, to its client. */
  reply(message: Frames): void {
    this.#stats.replies++;
    this.#frontend.post(message);
  }

  /** Send a message to a worker (heartbeats). */
  toWorker(message: Frames): void {
    this.#backend.post(message);
  }

  /** Hand queued requests to free workers, oldest first, while there are both. */
  dispatch(): void {
    if (this.#stopped) return;
    while (this.#backlog.length > 0) {
      const worker = this.#workers.next();
      if (worker === undefined) return;
      const request = this.#backlog.shift();
      if (request === undefined) return;
      this.#stats.dispatched++;
      this.#backend.post(this.#workers.encodeRequest(worker, request));
    }
    this.#intake.drained();
  }

  /**
   * Put the request of an undeliverable backend message (its client envelope starting at frame
   * `from`) back at the head of the backlog and dispatch again; nothing once closing.
   */
  requeue(message: Frames, from: number): void {
    if (this.#stopped) return;
    if (typeof envelopeDelimiter(message as Buffer[], from) === 'string') return;
    this.#stats.requeued++;
    this.#stats.dispatched--;
    this.#backlog.unshift((message as Buffer[]).slice(from));
    this.dispatch();
  }

  /** Stop dispatching and drop the backlog; returns how many requests were dropped. */
  stop(): number {
    this.#stopped = true;
    this.#log.debug('stopped');
    this.#intake.flush();
    return this.#backlog.clear();
  }

  /** Close both sockets and release their CURVE guards (after `stop()`). */
  async release(): Promise<void> {
    await Promise.all([this.#frontend.close(), this.#backend.close()]);
    await Promise.all(this.#security.map((guard) => guard.release()));
  }
}
