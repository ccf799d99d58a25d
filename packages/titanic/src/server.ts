/**
 * The Titanic server: the three 9/TSP services as Majordomo workers, a durable store with group
 * commit, and the dispatcher that forwards stored requests to their services.
 *
 *   client ──titanic.request──> broker ──> N workers ──> GroupCommitter ──COMMIT──> "200" uuid
 *   client ──titanic.reply────> broker ──> M workers ──> store.get ──> "200" body | "300" | "400"
 *   client ──titanic.close────> broker ──> M workers ──> GroupCommitter (delete) ──> "200"
 *                                     Dispatcher ──MDP client──> broker ──> service workers
 *
 * The parts: `TspWorkers` (the workers and their link to the broker), `TspServices` (the three
 * handlers), `BacklogGate` (the backlog bounds), `GroupCommitter` (one fsync per batch of writes),
 * `Dispatcher`, `RetentionSweep`. This module assembles them and runs their lifecycle.
 */
import { Component, toError, type Logger } from '@zpatterns/core';
import { componentLogger } from '@zpatterns/core/internal';
import { MajordomoClient } from '@zpatterns/majordomo';
import { BacklogGate } from './backlog-gate.js';
import { Dispatcher } from './dispatcher.js';
import { GroupCommitter } from './group-commit.js';
import { RetentionSweep } from './retention-sweep.js';
import { resolveServerOptions, type ResolvedServerOptions, type TitanicServerOptions } from './server-options.js';
import type { TitanicServerStats, TitanicServerStatus } from './server-status.js';
import type { TitanicStore } from './store.js';
import { TspServices } from './tsp-services.js';
import { TspWorkers } from './tsp-workers.js';

/** A store's health event, read whatever fields its store gives (`reason` and `error` both optional). */
interface StoreHealthEvent {
  readonly type: string;
  readonly reason?: unknown;
  readonly error?: unknown;
}

/**
 * The Titanic server (9/TSP): the `titanic.request`, `titanic.reply` and `titanic.close` services
 * as Majordomo workers, a durable store (`SqliteStore`, or `PostgresStore` shared by several
 * instances) with group commit, and the dispatcher that forwards stored requests to their services.
 *
 * `new TitanicServer({ broker, store })` validates the options (`InvalidArgumentError`) and opens
 * nothing. `start()` starts the store (a store that cannot open rejects with
 * `TitanicStoreError`), recovers every unfinished request from it, connects the workers (READY
 * sent to the broker for every service) and starts dispatching: the server is ready then.
 * `await TitanicServer.start(options)` does new and start. `close()` is the graceful stop.
 */
export class TitanicServer extends Component<TitanicServerStatus> {
  readonly #o: ResolvedServerOptions;
  readonly #log: Logger;
  readonly #store: TitanicStore;
  readonly #committer: GroupCommitter;
  readonly #client: MajordomoClient;
  readonly #dispatcher: Dispatcher;
  readonly #services: TspServices;
  readonly #workers: TspWorkers;
  readonly #sweep: RetentionSweep;
  #storeRelay: Promise<void> | undefined;
  #recovered = 0;

  constructor(options: TitanicServerOptions) {
    super();
    const o = resolveServerOptions(options);
    this.#o = o;
    this.#log = componentLogger(options.logger, { component: 'titanic' });
    this.#store = o.store;
    this.#committer = new GroupCommitter(this.#store, { logger: this.#log });
    // The inbound bounds of every socket to the broker, when given (else Majordomo's).
    const limits = {
      ...(o.maxFramesPerMessage === undefined ? {} : { maxFramesPerMessage: o.maxFramesPerMessage }),
      ...(o.maxMessageBytes === undefined ? {} : { maxMessageBytes: o.maxMessageBytes }),
    };
    this.#client = new MajordomoClient({
      broker: o.broker,
      attemptTimeoutMs: o.dispatchTimeoutMs,
      retries: 0,
      maxSockets: o.concurrency + 1,
      maxIdleSockets: o.concurrency + 1,
      logger: this.#log,
      clock: o.clock,
      security: o.security,
      ...limits,
    });
    this.#dispatcher = new Dispatcher(this.#client, this.#store, this.#committer, {
      concurrency: o.concurrency,
      dispatchTimeoutMs: o.dispatchTimeoutMs,
      retryDelay: o.retryDelay,
      serviceRetryDelay: o.serviceRetryDelay,
      mmiCheck: o.mmiCheck,
      leaseMs: o.leaseMs,
      drainTimeoutMs: o.drainTimeoutMs,
      claimIntervalMs: o.claimIntervalMs,
      ...(o.instance === undefined ? {} : { instance: o.instance }),
      logger: this.#log,
      clock: o.clock,
    });
    const gate = new BacklogGate(this.#dispatcher, {
      maxBacklog: o.maxBacklog,
      maxPendingPerService: o.maxPendingPerService,
      log: this.#log,
      onChange: (event) => this.emit(event),
    });
    this.#services = new TspServices({
      store: this.#store,
      committer: this.#committer,
      dispatch: this.#dispatcher,
      gate,
      log: this.#log,
    });
    this.#workers = new TspWorkers({
      broker: o.broker,
      requestWorkers: o.requestWorkers,
      replyWorkers: o.replyWorkers,
      heartbeatIntervalMs: o.heartbeatIntervalMs,
      liveness: o.liveness,
      reconnectDelay: o.reconnectDelay,
      security: o.security,
      logger: this.#log,
      clock: o.clock,
      limits,
      handlers: this.#services,
      onLink: (event) => this.emit(event),
      reporting: () => this.running,
    });
    this.#sweep = new RetentionSweep(this.#store, {
      retentionMs: o.replyRetentionMs,
      clock: o.clock,
      log: this.#log,
    });
  }

  /** Running, and the store can reach its storage: what `/healthz` reports. */
  get healthy(): boolean {
    return this.running && this.#store.healthy !== false;
  }

  /** This instance's name in the store's leases (lease stores), as `claimed_by` shows it. */
  get instance(): string | undefined {
    return this.#dispatcher.leased ? this.#dispatcher.instance : undefined;
  }

  /** Requests this instance is dispatching now (sent, no reply yet), by service (latin1). */
  inFlightByService(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const job of this.#dispatcher.queue.jobs()) {
      if (!job.inFlight) continue;
      const key = job.service.toString('latin1');
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    return counts;
  }

  /** The store the server uses (the one given as `store`). */
  get store(): TitanicStore {
    return this.#store;
  }

  /** A snapshot of the counters; read it again for fresh figures. */
  get stats(): TitanicServerStats {
    return {
      ...this.#services.counters,
      expired: this.#sweep.expired,
      recovered: this.#recovered,
      oversize: this.#client.stats.oversize + this.#workers.oversize,
      dispatch: { ...this.#dispatcher.stats },
    };
  }

  /**
   * Requests stored and not yet answered by their service: the in-memory index, or with a lease
   * store the store-wide count (refreshed every second) plus local submissions since.
   */
  get pending(): number {
    return this.#dispatcher.backlog;
  }

  /**
   * Starts the store, recovers every unfinished request from it, registers the three services
   * with the broker (every worker's READY sent) and starts dispatching.
   */
  protected async onStart(): Promise<void> {
    await this.#store.start();
    this.#storeRelay = this.#relayStore();
    this.#recovered = await this.#dispatcher.recover();
    await this.#client.start();
    await this.#workers.start();
    this.#dispatcher.start();
    // The first sweep a second after start, not in the middle of it.
    this.#sweep.start(1000);
    this.#log.info(
      { recovered: this.#recovered, workers: this.#workers.size, concurrency: this.#o.concurrency },
      'titanic started',
    );
  }

  /** The store's health changes, as the server's own (the server is only as healthy as its store). */
  async #relayStore(): Promise<void> {
    const feed = this.#store.status?.();
    if (feed === undefined) return;
    for await (const event of feed as AsyncIterable<StoreHealthEvent>) {
      if (event.type === 'unhealthy') {
        const error = event.error instanceof Error ? event.error : undefined;
        const reason = typeof event.reason === 'string' ? event.reason : `store: ${error?.message ?? 'failing'}`;
        this.emit({ type: 'unhealthy', reason, ...(error === undefined ? {} : { error }) });
      } else if (event.type === 'healthy') this.emit({ type: 'healthy' });
    }
  }

  /**
   * Graceful stop: the workers finish the request in hand and leave (DISCONNECT), the dispatcher
   * drains briefly, every queued write is committed, the store is closed.
   */
  protected async onClose(): Promise<void> {
    this.#sweep.stop();
    await this.#workers.close();
    // After a failed start the store may not be open: handing leases back then fails, harmlessly.
    await this.#dispatcher.close().catch((err: unknown) => {
      this.#log.warn({ err: toError(err) }, 'dispatcher close failed');
    });
    await this.#client.close();
    await this.#committer.close();
    await this.#store.close();
    await Promise.allSettled([this.#storeRelay]);
  }
}
