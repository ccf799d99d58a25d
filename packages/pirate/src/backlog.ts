/**
 * Client requests waiting for a free worker. The book's queues stop reading the frontend while no
 * worker is ready and let libzmq buffer; zeromq.js has one receive loop per socket, so the queue
 * reads every request and keeps the ones it cannot place here, in arrival order, up to `limit`.
 *
 * Overflow policy: drop the OLDEST request. Lazy Pirate clients resend after their timeout on a
 * new socket, so the oldest waiting request is the one most likely already abandoned by its
 * client (its reply would be dropped by the frontend ROUTER anyway); the newest is the one a
 * client is still waiting for.
 */
import { describe, Deque, type Logger, type Message } from '@zpatterns/core';
import { decodeClientRequest, peerOf, type Enveloped } from './protocol.js';

export class Backlog {
  readonly #items = new Deque<Enveloped>(64);
  readonly #limit: number;
  #dropped = 0;

  constructor(limit: number) {
    if (!(limit >= 0)) throw new RangeError('Backlog: limit must be >= 0');
    this.#limit = limit;
  }

  get length(): number {
    return this.#items.length;
  }

  /** Requests kept at most. */
  get limit(): number {
    return this.#limit;
  }

  /** Requests discarded because the backlog was full. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Queue a request; returns the request dropped to make room, if any. */
  push(request: Enveloped): Enveloped | undefined {
    if (this.#limit === 0) {
      this.#dropped++;
      return request;
    }
    let evicted: Enveloped | undefined;
    if (this.#items.length >= this.#limit) {
      evicted = this.#items.shift();
      this.#dropped++;
    }
    this.#items.push(request);
    return evicted;
  }

  /** Put a request back at the head (its worker vanished before taking it). */
  unshift(request: Enveloped): void {
    this.#items.unshift(request);
  }

  shift(): Enveloped | undefined {
    return this.#items.shift();
  }

  clear(): number {
    return this.#items.clear().length;
  }
}

/** The counters both Pirate queues keep for their frontend. */
export interface IntakeStats {
  requests: number;
  invalidFromClients: number;
  droppedRequests: number;
}

/**
 * A client request read on a queue's frontend: decode it, count it, and queue it in `backlog`
 * (logging a drop when the backlog overflows). Returns false, after a warning, for a message that
 * is not a request.
 */
export function admitRequest(message: Message, backlog: Backlog, stats: IntakeStats, log: Logger): boolean {
  const decoded = decodeClientRequest(message);
  if (decoded.type === 'invalid') {
    stats.invalidFromClients++;
    log.warn({ peer: peerOf(message), reason: decoded.reason, frames: describe(message) }, 'invalid request dropped');
    return false;
  }
  stats.requests++;
  if (backlog.push(decoded) !== undefined) {
    stats.droppedRequests++;
    log.warn({ limit: backlog.limit }, 'backlog full, oldest request dropped');
  }
  return true;
}
