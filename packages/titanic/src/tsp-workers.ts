/**
 * Titanic's Majordomo workers: `requestWorkers` for `titanic.request`, `replyWorkers` each for
 * `titanic.reply` and `titanic.close`, and their link to the broker folded into one.
 *
 * MDP lets a worker hold one request at a time, so concurrency on a service comes from running
 * several workers for it. The link is up once every worker has registered, and down as soon as
 * one of them loses the broker:
 *
 *   every worker heard the broker ────> 'connected'     (once per recovery; session 1, 2, ...)
 *   a worker silent / DISCONNECT ─────> 'disconnected'  (a handler error is a worker's own, not the broker's)
 */
import type {
  Clock,
  ConnectedEvent,
  DisconnectedEvent,
  DisconnectReason,
  Logger,
  RetryDelay,
  SecurityOptions,
} from '@zpatterns/core';
import { MajordomoWorker } from '@zpatterns/majordomo';
import { TSP_SERVICE } from './codec.js';
import type { TspHandler } from './tsp-services.js';

/** The link's changes: every worker heard from the broker, or one lost it. */
export type BrokerLinkEvent = ConnectedEvent | DisconnectedEvent;

/**
 * How a worker's loss of the broker counts for the link; `undefined` for a loss of the worker's
 * own making (its handler failed), which says nothing about the broker.
 */
function linkLoss(reason: DisconnectReason): DisconnectReason | undefined {
  return reason === 'error' ? undefined : reason;
}

/** Options of `new TspWorkers(options)`. */
export interface TspWorkersOptions {
  readonly broker: string;
  readonly requestWorkers: number;
  readonly replyWorkers: number;
  readonly heartbeatIntervalMs: number;
  readonly liveness: number;
  readonly reconnectDelay: RetryDelay | undefined;
  readonly security: SecurityOptions | undefined;
  readonly logger: Logger;
  readonly clock: Clock;
  /** The workers' inbound bounds, where given. */
  readonly limits: { readonly maxFramesPerMessage?: number; readonly maxMessageBytes?: number };
  /** The handlers of the three services. */
  readonly handlers: { readonly submit: TspHandler; readonly reply: TspHandler; readonly close: TspHandler };
  /** Told of the link's changes, while `reporting()` is true. */
  readonly onLink: (event: BrokerLinkEvent) => void;
  /** False once the server is closing: a lost broker is not news then. */
  readonly reporting: () => boolean;
}

/** The workers of the three TSP services, started and closed together. */
export class TspWorkers {
  readonly #o: TspWorkersOptions;
  readonly #workers: MajordomoWorker[] = [];
  readonly #relays: Promise<void>[] = [];
  /** Workers with a session open. */
  readonly #sessions = new Set<MajordomoWorker>();
  #up = false;
  /** Times the link came up. */
  #session = 0;

  constructor(options: TspWorkersOptions) {
    this.#o = options;
    const { handlers } = options;
    this.#spawn(TSP_SERVICE.REQUEST, options.requestWorkers, handlers.submit);
    this.#spawn(TSP_SERVICE.REPLY, options.replyWorkers, handlers.reply);
    this.#spawn(TSP_SERVICE.CLOSE, options.replyWorkers, handlers.close);
  }

  #spawn(service: string, count: number, handler: TspHandler): void {
    const o = this.#o;
    for (let i = 0; i < count; i++) {
      this.#workers.push(
        new MajordomoWorker({
          broker: o.broker,
          service,
          handler,
          heartbeatIntervalMs: o.heartbeatIntervalMs,
          liveness: o.liveness,
          ...(o.reconnectDelay === undefined ? {} : { reconnectDelay: o.reconnectDelay }),
          logger: o.logger,
          clock: o.clock,
          security: o.security,
          ...o.limits,
        }),
      );
    }
  }

  /** How many workers there are. */
  get size(): number {
    return this.#workers.length;
  }

  /** Messages from the broker the workers dropped for their size (summed over the workers). */
  get oversize(): number {
    let oversize = 0;
    for (const worker of this.#workers) oversize += worker.stats.oversize;
    return oversize;
  }

  /** Start every worker (READY sent for each). */
  async start(): Promise<void> {
    for (const worker of this.#workers) this.#relays.push(this.#relay(worker));
    await Promise.all(this.#workers.map((w) => w.start()));
  }

  /** Close every worker: each finishes the request in hand and leaves (DISCONNECT). */
  async close(): Promise<void> {
    await Promise.allSettled(this.#workers.map((w) => w.close()));
    await Promise.allSettled(this.#relays);
  }

  async #relay(worker: MajordomoWorker): Promise<void> {
    for await (const event of worker.status()) {
      if (event.type === 'connected') {
        this.#sessions.add(worker);
        if (!this.#up && this.#sessions.size === this.#workers.length) {
          this.#up = true;
          this.#o.onLink({ type: 'connected', peer: this.#o.broker, session: ++this.#session });
        }
      } else if (event.type === 'disconnected') {
        this.#sessions.delete(worker);
        const reason = linkLoss(event.reason);
        // A handler error is a worker's own re-registration, not a broker problem (ours answer 500).
        if (this.#up && reason !== undefined && this.#o.reporting()) {
          this.#up = false;
          this.#o.onLink({
            type: 'disconnected',
            peer: this.#o.broker,
            reason,
            ...(event.silentMs === undefined ? {} : { silentMs: event.silentMs }),
            session: this.#session,
          });
        }
      }
    }
  }
}
