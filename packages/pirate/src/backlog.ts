/**
 * Client requests waiting for a free worker. The book's queues stop reading the frontend while no
 * worker is ready and let libzmq buffer; zeromq.js has one receive loop per socket, so the queue
 * reads every request and keeps the ones it cannot place here, in arrival order.
 *
 * Bound: bytes, like the Majordomo broker's (frames plus about 100 bytes of overhead per request,
 * 256 MiB by default: the book's 100,000 pipelined requests take a few MiB). Past it a NEW request
 * is refused and the accepted ones are kept: they are the ones clients have waited for longest.
 * The Pirate protocols have no error reply, so a refusal is a drop of the new request: its client
 * times out and retries (Lazy Pirate), by which time the backlog has drained. A request put back
 * because its worker vanished (`unshift`) was already accepted and is kept even past the bound.
 */
import {
  InvalidArgumentError,
  type Clock,
  type DrainedEvent,
  type Logger,
  type Message,
  type SaturatedEvent,
} from '@zpatterns/core';
import { describe, Deque, WarningLimiter } from '@zpatterns/core/internal';
import { peerOf } from './log-fields.js';
import { envelopeDelimiter } from './protocol.js';

/** Default bound of a Pirate queue's backlog: 256 MiB, as the Majordomo broker's. */
export const DEFAULT_MAX_QUEUED_BYTES = 256 * 1024 * 1024;

/**
 * A client's request as the frontend read it, `[client-id...][""][body...]`, its envelope checked:
 * the queue forwards it as it came, behind the worker's identity.
 */
export type Request = readonly Buffer[];

/** What a queued request costs against the bound: its frames plus fixed overhead. */
export function requestBytes(request: Request): number {
  let bytes = 96;
  for (let i = 0; i < request.length; i++) bytes += (request[i] as Buffer).length + 16;
  return bytes;
}

/** Requests in arrival order; each one's bytes are counted again as it leaves (no record per request). */
export class Backlog {
  readonly #items = new Deque<Request>(64);
  readonly #maxBytes: number;
  #bytes = 0;

  constructor(maxBytes: number) {
    if (!(maxBytes >= 0)) throw new InvalidArgumentError('Backlog: maxBytes must be >= 0');
    this.#maxBytes = maxBytes;
  }

  get length(): number {
    return this.#items.length;
  }

  /** Bytes of the queued requests, as counted against `maxBytes`. */
  get bytes(): number {
    return this.#bytes;
  }

  /** The bound, in bytes. */
  get maxBytes(): number {
    return this.#maxBytes;
  }

  /** Queue a new request unless it would take the backlog past `maxBytes`; false when refused. */
  push(request: Request): boolean {
    const bytes = requestBytes(request);
    if (this.#bytes + bytes > this.#maxBytes) return false;
    this.#bytes += bytes;
    this.#items.push(request);
    return true;
  }

  /** Put an accepted request back at the head (its worker vanished before taking it), past the bound if need be. */
  unshift(request: Request): void {
    const bytes = requestBytes(request);
    this.#bytes += bytes;
    this.#items.unshift(request);
  }

  shift(): Request | undefined {
    const request = this.#items.shift();
    if (request === undefined) return undefined;
    this.#bytes -= requestBytes(request);
    return request;
  }

  clear(): number {
    this.#bytes = 0;
    return this.#items.clear().length;
  }
}

/** Warnings about peers' bad input: at most this many a second (the rest are counted, then summed up). */
export const WARNINGS_PER_SECOND = 10;

/** The counters both Pirate queues keep for their frontend. */
export interface IntakeStats {
  /** Valid requests read on the frontend. */
  requests: number;
  /** Frontend messages that were not `[client-id][""][body...]`, dropped. */
  malformedFromClients: number;
  /** New requests refused (dropped) because the backlog was at `maxQueuedBytes`. */
  refused: number;
}

/** A change of the backlog's standing: full (a request refused), or taking requests again. */
export type BacklogEvent = SaturatedEvent | DrainedEvent;

/**
 * Decodes, counts and queues the requests read on a Pirate queue's frontend, and reports
 * `saturated` at the first refusal (`queued` and `limit` in bytes) and `drained` once the backlog
 * takes a request again or empties.
 */
export class Intake {
  readonly #backlog: Backlog;
  readonly #stats: IntakeStats;
  readonly #report: (event: BacklogEvent) => void;
  #saturated = false;
  /** Refusals: one warning per second at most, with the figures. */
  readonly #overload: WarningLimiter;
  /** Invalid requests: `WARNINGS_PER_SECOND` warnings a second at most. */
  readonly #invalid: WarningLimiter;

  constructor(
    backlog: Backlog,
    stats: IntakeStats,
    log: Logger,
    clock: Clock,
    report: (event: BacklogEvent) => void = () => undefined,
  ) {
    this.#backlog = backlog;
    this.#stats = stats;
    this.#report = report;
    this.#overload = new WarningLimiter(log, clock, 1);
    this.#invalid = new WarningLimiter(log, clock, WARNINGS_PER_SECOND);
  }

  /**
   * Queue a client request; false (after a warning) for a message that is not a request, or
   * (counted, one warning per second) for a request refused at the byte bound.
   */
  admit(message: Message): boolean {
    const delimiter = envelopeDelimiter(message);
    if (typeof delimiter === 'string') {
      this.#stats.malformedFromClients++;
      this.#invalid.warn(
        { peer: peerOf(message), reason: delimiter, frames: describe(message) },
        'invalid request dropped',
      );
      return false;
    }
    this.#stats.requests++;
    if (this.#backlog.push(message)) {
      this.drained();
      return true;
    }
    this.#stats.refused++;
    if (!this.#saturated) {
      this.#saturated = true;
      this.#report({ type: 'saturated', queued: this.#backlog.bytes, limit: this.#backlog.maxBytes });
    }
    this.#overload.warn(
      {
        queuedRequests: this.#backlog.length,
        queuedBytes: this.#backlog.bytes,
        requestBytes: requestBytes(message),
        maxQueuedBytes: this.#backlog.maxBytes,
        refused: this.#stats.refused,
      },
      'queued bytes at maxQueuedBytes, new request refused',
    );
    return false;
  }

  /** After a refusal, the backlog has room again (it took a request, or it emptied): say so once. */
  drained(): void {
    if (!this.#saturated) return;
    this.#saturated = false;
    this.#report({ type: 'drained', queued: this.#backlog.bytes });
  }

  /** Log the count of warnings the rate limit held back, if any (on close). */
  flush(): void {
    this.#overload.flush();
  }
}
