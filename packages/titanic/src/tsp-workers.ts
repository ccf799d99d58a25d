/**
 * Titanic's Majordomo workers: `requestWorkers` for `titanic.request`, `replyWorkers` each for
 * `titanic.reply` and `titanic.close`, and their link to the broker folded into one.
 *
 * MDP lets a worker hold one request at a time, so concurrency on a service comes from running
 * several workers for it. The link is up once every worker has registered, and down as soon as
 * one of them loses the broker:
 *
 *   every worker connected ───────────> 'connected'     (once per recovery)
 *   a worker silent / DISCONNECT ─────> 'disconnected'  (a handler error is a worker's own, not the broker's)
 */
import type { Clock, Logger, RetryDelay, SecurityOptions } from '@zpatterns/core';
import { MajordomoWorker, type WorkerStatus } from '@zpatterns/majordomo';
import { TSP_SERVICE } from './codec.js';
import type { TspHandler } from './tsp-services.js';

/** The link's changes: every worker registered, or one lost the broker. */
export type BrokerLinkEvent =
  | { readonly type: 'connected'; readonly server: string }
  | {
      readonly type: 'disconnected';
      readonly server: string;
      readonly reason: 'broker-dead' | 'disconnect';
      readonly silentMs?: number;
    };

/** Options of `new TspWorkers(options)`. */
export interface TspWorkersOptions {
  readonly broker: string;
  readonly requestWorkers: number;
  readonly replyWorkers: number;
  readonly heartbeatIntervalMs: number;
  readonly liveness: number;
  readonly reconnect: RetryDelay | undefined;
  readonly security: SecurityOptions | undefined;
  readonly logger: Logger;
  readonly clock: Clock;
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
          ...(o.reconnect === undefined ? {} : { reconnect: o.reconnect }),
          logger: o.logger,
          clock: o.clock,
          security: o.security,
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
    for await (const event of worker.status() as AsyncIterable<WorkerStatus | { type: string }>) {
      const e = event as WorkerStatus;
      if (e.type === 'connected') {
        this.#sessions.add(worker);
        if (!this.#up && this.#sessions.size === this.#workers.length) {
          this.#up = true;
          this.#o.onLink({ type: 'connected', server: this.#o.broker });
        }
      } else if (e.type === 'disconnected') {
        this.#sessions.delete(worker);
        // A handler error is a worker's own re-registration, not a broker problem (ours answer 500).
        if (this.#up && e.reason !== 'handler-error' && this.#o.reporting()) {
          this.#up = false;
          this.#o.onLink({
            type: 'disconnected',
            server: this.#o.broker,
            reason: e.reason,
            ...(e.silentMs === undefined ? {} : { silentMs: e.silentMs }),
          });
        }
      }
    }
  }
}
