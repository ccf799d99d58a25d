/**
 * The Titanic server: the three 9/TSP services as Majordomo workers, a durable store with group
 * commit, and the dispatcher that forwards stored requests to their services.
 *
 *   client ──titanic.request──> broker ──> N workers ──> GroupCommitter ──COMMIT──> "200" uuid
 *   client ──titanic.reply────> broker ──> M workers ──> store.get ──> "200" body | "300" | "400"
 *   client ──titanic.close────> broker ──> M workers ──> GroupCommitter (delete) ──> "200"
 *                                     Dispatcher ──MDP client──> broker ──> service workers
 *
 * MDP lets a worker hold one request at a time, so concurrency on `titanic.request` comes from
 * running several workers for it (`requestWorkers`); their writes meet in the group committer and
 * share one fsync.
 */
import {
  Component,
  InvalidArgumentError,
  componentLogger,
  systemClock,
  toError,
  type Clock,
  type Frame,
  type Logger,
  type SecurityOptions,
  type RetryDelay,
  type TimerHandle,
  definedOnly,
} from '@zpatterns/core';
import { MajordomoClient, MajordomoWorker, type WorkerStatus } from '@zpatterns/majordomo';
import { Dispatcher, dispatcherDefaults, type DispatcherStats } from './dispatcher.js';
import { GroupCommitter } from './group-commit.js';
import {
  decodeSubmit,
  decodeUuidRequest,
  encodeReplyReady,
  encodeStatus,
  encodeSubmitted,
  generateUuid,
  TSP_SERVICE,
} from './protocol.js';
import { SqliteStore } from './sqlite-store.js';
import type { TitanicStore, TitanicStoreStatus } from './store.js';

/** Options of `new TitanicServer(options)`; `titanicServerDefaults` holds the defaults. */
export interface TitanicServerOptions {
  /** Broker endpoint, e.g. `tcp://127.0.0.1:5555`. Required. */
  broker: string;
  /** Directory of the SQLite store, used when no `store` is given. @default './data/titanic' */
  dataDir?: string;
  /**
   * A store to use instead of SQLite in `dataDir` (e.g. `MemoryStore`, `PostgresStore`).
   * `start()` starts it (a store already started is fine) and `close()` closes it.
   */
  store?: TitanicStore | undefined;
  /** Workers registered for `titanic.request`: submissions handled concurrently. @default 32 */
  requestWorkers?: number;
  /** Workers registered for `titanic.reply` and for `titanic.close` (each). @default 8 */
  replyWorkers?: number;
  /** Requests in flight to services at most. @default 32 */
  concurrency?: number;
  /** Dispatch attempt timeout; longer than the slowest service. @default 10000 */
  dispatchTimeoutMs?: number;
  /** Delay before re-sending a request after its `n`-th timeout. @default exponential 1 s .. 30 s */
  retryDelay?: RetryDelay;
  /** Delay before probing a failing service again. @default exponential 250 ms .. 5 s */
  serviceRetryDelay?: RetryDelay;
  /** Ask `mmi.service` before a probe (first contact with a service, or after a failure). @default true */
  mmiCheck?: boolean;
  /** MDP heartbeat interval of the workers; must match the broker's. @default 2500 */
  heartbeatIntervalMs?: number;
  /** MDP liveness of the workers. @default 3 */
  liveness?: number;
  /** Worker reconnect policy after the broker is lost. @default the worker's (2.5 s .. 32 s) */
  reconnect?: RetryDelay | undefined;
  /**
   * Delete a reply no client has closed this long after it was recorded (0 keeps replies until
   * `titanic.close`, as 9/TSP has it). The retention limit keeps replies whose UUID a client lost
   * from piling up. @default 604800000 (7 days)
   */
  replyRetentionMs?: number;
  /**
   * CURVE for every connection to the broker (the workers and the dispatching client): this
   * side's key pair and the broker's public key. @default undefined (plain)
   */
  security?: SecurityOptions | undefined;
  /**
   * The backlog bound: requests stored and not yet answered by their service. A submission beyond
   * it is refused with "500" (and counted in `stats.refused`) instead of growing the backlog
   * without limit; the client retries later. Without a lease store the backlog is the in-memory
   * index of pending requests (about 250 bytes each, so the default costs at most ~60 MB); with
   * one (PostgreSQL) it is the store-wide count, refreshed every second. Sized so that the book's
   * test workload, 100,000 requests submitted at once, is accepted whole. @default 250000
   */
  maxBacklog?: number;
  /**
   * The bound per target service: a submission for a service that already has this many requests
   * stored and unanswered is refused with "500", so that one client flooding a made-up or dead
   * service cannot fill `maxBacklog` and have everyone else refused. Counted like `maxBacklog`
   * (store-wide, refreshed every second, with a lease store). @default 125000 (the book's 100,000 pipelined requests to one service are accepted whole; half of `maxBacklog`)
   */
  maxPendingPerService?: number;
  /** Lease stores (PostgreSQL): how long a claim holds a request; longer than `drainTimeoutMs`. @default 30000 */
  leaseMs?: number;
  /**
   * How long `close()` waits for requests in flight before abandoning them. Lease stores renew the
   * leases meanwhile, and refuse (`InvalidArgumentError`) a drain not shorter than `leaseMs`. @default 2000
   */
  drainTimeoutMs?: number;
  /** Lease stores: how often to look for claimable requests. @default 1000 */
  claimIntervalMs?: number;
  /** Lease stores: this instance's name in the leases. @default `<hostname>:<pid>:<random>` */
  instance?: string | undefined;
  /** Called after every store commit (duration, size, success): for a latency histogram. Must not throw. */
  onStoreCommit?: ((commit: TitanicStoreCommit) => void) | undefined;
  /** Parent logger. @default silent */
  logger?: Logger | undefined;
  /** Time source of the timers (heartbeats, dispatch timeouts, retries, the sweep). @default systemClock */
  clock?: Clock;
}

/** One store commit, as `onStoreCommit` sees it. */
export interface TitanicStoreCommit {
  /** How long the store's `write(batch)` took (for a durable store, the fsync or the round trip). */
  durationMs: number;
  /** Writes in the batch. */
  writes: number;
  /** Whether the commit succeeded. */
  ok: boolean;
}

type Optional = 'store' | 'logger' | 'reconnect' | 'security' | 'instance' | 'onStoreCommit';
type ResolvedServerOptions = Required<Omit<TitanicServerOptions, Optional>> & Pick<TitanicServerOptions, Optional>;

/** The server's defaults; see `TitanicServerOptions` for each. */
export const titanicServerDefaults = {
  dataDir: './data/titanic',
  requestWorkers: 32,
  replyWorkers: 8,
  concurrency: dispatcherDefaults.concurrency,
  dispatchTimeoutMs: dispatcherDefaults.timeoutMs,
  retryDelay: dispatcherDefaults.retryDelay,
  serviceRetryDelay: dispatcherDefaults.serviceRetryDelay,
  mmiCheck: true,
  heartbeatIntervalMs: 2500,
  liveness: 3,
  replyRetentionMs: 7 * 24 * 3_600_000,
  maxBacklog: 250_000,
  maxPendingPerService: 125_000,
  leaseMs: dispatcherDefaults.leaseMs,
  drainTimeoutMs: dispatcherDefaults.drainTimeoutMs,
  claimIntervalMs: dispatcherDefaults.claimIntervalMs,
  clock: systemClock,
} as const satisfies Omit<ResolvedServerOptions, 'broker' | Optional>;

/** Counters of a `TitanicServer`; `server.stats` is a snapshot of them. */
export interface TitanicServerStats {
  /** Submissions stored and answered "200" with their UUID. */
  submitted: number;
  /** `titanic.reply` requests answered. */
  replyQueries: number;
  /** `titanic.close` requests answered "200". */
  closes: number;
  /** Malformed TSP requests answered "400". */
  malformed: number;
  /** Internal errors answered "500". */
  internalErrors: number;
  /** Submissions refused with "500" because the backlog was at `maxBacklog` (or a service at `maxPendingPerService`). */
  refused: number;
  /** Replies deleted by the retention limit. */
  expired: number;
  /** Pending requests recovered from the store at `start()`. */
  recovered: number;
  /**
   * Messages from the broker dropped, to the TSP workers or the dispatcher's client, because they
   * had more frames or bytes than the broker itself accepts (256 frames, 16 MiB in all).
   */
  oversize: number;
  /** The dispatcher's counters: requests sent to their services, replies, timeouts, leases. */
  dispatch: DispatcherStats;
}

/**
 * The server's status events (beside `started` and `closed`):
 * - `store-unhealthy` / `store-healthy`: the store lost its storage (a full disk, a database that
 *   is down; submissions are answered "500" meanwhile) and got it back;
 * - `disconnected` / `connected`: a worker lost the broker (silent for `heartbeatIntervalMs x
 *   liveness`, or the broker said DISCONNECT), and every worker has registered again (READY sent
 *   on a fresh connection; MDP has no acknowledgement, so a broker still down is reported by the
 *   next `disconnected`);
 * - `backlog-full` / `backlog-ok`: submissions started to be refused at `maxBacklog`, and are
 *   accepted again.
 */
export type TitanicServerStatus =
  | {
      readonly type: 'store-unhealthy';
      /** Why the store reports itself unhealthy. */
      readonly error: Error;
    }
  | { readonly type: 'store-healthy' }
  | {
      readonly type: 'disconnected';
      /** The broker endpoint. */
      readonly server: string;
      /** `broker-dead` (silent too long) or `disconnect` (the broker sent DISCONNECT). */
      readonly reason: 'broker-dead' | 'disconnect';
      /** With `broker-dead`: how long the broker had been silent. */
      readonly silentMs?: number;
    }
  | {
      readonly type: 'connected';
      /** The broker endpoint. */
      readonly server: string;
    }
  | {
      readonly type: 'backlog-full';
      /** Requests stored and unanswered when the refusals began. */
      readonly backlog: number;
      /** The bound (`maxBacklog`). */
      readonly maxBacklog: number;
    }
  | {
      readonly type: 'backlog-ok';
      /** Requests stored and unanswered when submissions were accepted again. */
      readonly backlog: number;
    };

/**
 * The Titanic server (9/TSP): the `titanic.request`, `titanic.reply` and `titanic.close` services
 * as Majordomo workers, a durable store (SQLite by default, or PostgreSQL) with group commit, and
 * the dispatcher that forwards stored requests to their services.
 *
 * `new TitanicServer({ broker })` validates the options (`InvalidArgumentError`) and opens
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
  readonly #workers: MajordomoWorker[] = [];
  readonly #relays: Promise<void>[] = [];
  /** Workers with a session open, for `connected` / `disconnected`. */
  readonly #sessions = new Set<MajordomoWorker>();
  #brokerUp = false;
  #backlogFull = false;
  #recovered = 0;
  readonly #counters = {
    submitted: 0,
    replyQueries: 0,
    closes: 0,
    malformed: 0,
    internalErrors: 0,
    refused: 0,
    expired: 0,
  };
  #sweepTimer: TimerHandle | undefined;
  /**
   * Submissions that passed the bounds and wait for their commit, in all and by service (latin1):
   * counted with the backlog so that concurrent submissions cannot overshoot a bound together.
   */
  #reserved = 0;
  readonly #reservedOf = new Map<string, number>();

  constructor(options: TitanicServerOptions) {
    super();
    const o: ResolvedServerOptions = { ...titanicServerDefaults, ...definedOnly(options), broker: options.broker };
    if (typeof o.broker !== 'string' || o.broker === '')
      throw new InvalidArgumentError('broker: an endpoint is required');
    for (const key of [
      'requestWorkers',
      'replyWorkers',
      'concurrency',
      'liveness',
      'maxBacklog',
      'maxPendingPerService',
    ] as const) {
      if (!(Number.isInteger(o[key]) && o[key] >= 1))
        throw new InvalidArgumentError(`${key}: expected a whole number >= 1`);
    }
    this.#o = o;
    this.#log = componentLogger(options.logger, { component: 'titanic' });
    this.#store = options.store ?? new SqliteStore({ dataDir: o.dataDir });
    this.#committer = new GroupCommitter(this.#store, { logger: this.#log, onCommit: o.onStoreCommit });
    this.#client = new MajordomoClient({
      broker: o.broker,
      attemptTimeoutMs: o.dispatchTimeoutMs,
      retries: 0,
      maxSockets: o.concurrency + 1,
      maxIdleSockets: o.concurrency + 1,
      logger: this.#log,
      clock: o.clock,
      security: o.security,
    });
    this.#dispatcher = new Dispatcher(this.#client, this.#store, this.#committer, {
      concurrency: o.concurrency,
      timeoutMs: o.dispatchTimeoutMs,
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
    const spawn = (service: string, count: number, handler: (body: Buffer[]) => Promise<readonly Frame[]>): void => {
      for (let i = 0; i < count; i++) {
        this.#workers.push(
          new MajordomoWorker({
            broker: o.broker,
            service,
            handler,
            heartbeatIntervalMs: o.heartbeatIntervalMs,
            liveness: o.liveness,
            ...(o.reconnect === undefined ? {} : { reconnect: o.reconnect }),
            logger: this.#log,
            clock: o.clock,
            security: o.security,
          }),
        );
      }
    };
    spawn(TSP_SERVICE.REQUEST, o.requestWorkers, this.#onSubmit);
    spawn(TSP_SERVICE.REPLY, o.replyWorkers, this.#onReply);
    spawn(TSP_SERVICE.CLOSE, o.replyWorkers, this.#onCloseRequest);
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

  /** The store the server uses (the one given as `store`, or its own SQLite store). */
  get store(): TitanicStore {
    return this.#store;
  }

  /** A snapshot of the counters; read it again for fresh figures. */
  get stats(): TitanicServerStats {
    let oversize = this.#client.stats.oversize;
    for (const worker of this.#workers) oversize += worker.stats.oversize;
    return { ...this.#counters, recovered: this.#recovered, oversize, dispatch: { ...this.#dispatcher.stats } };
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
    this.#relays.push(this.#relayStore());
    this.#recovered = await this.#dispatcher.recover();
    await this.#client.start();
    for (const worker of this.#workers) this.#relays.push(this.#relayWorker(worker));
    await Promise.all(this.#workers.map((w) => w.start()));
    this.#dispatcher.start();
    // The first sweep a second after start, not in the middle of it.
    this.#scheduleSweep(1000);
    this.#log.info(
      { recovered: this.#recovered, workers: this.#workers.length, concurrency: this.#o.concurrency },
      'titanic started',
    );
  }

  async #relayStore(): Promise<void> {
    const feed = this.#store.status?.();
    if (feed === undefined) return;
    for await (const event of feed as AsyncIterable<TitanicStoreStatus | { type: string }>) {
      if (event.type === 'unhealthy' && 'error' in event) this.emit({ type: 'store-unhealthy', error: event.error });
      else if (event.type === 'healthy') this.emit({ type: 'store-healthy' });
    }
  }

  async #relayWorker(worker: MajordomoWorker): Promise<void> {
    for await (const event of worker.status() as AsyncIterable<WorkerStatus | { type: string }>) {
      const e = event as WorkerStatus;
      if (e.type === 'connected') {
        this.#sessions.add(worker);
        if (!this.#brokerUp && this.#sessions.size === this.#workers.length) {
          this.#brokerUp = true;
          this.emit({ type: 'connected', server: this.#o.broker });
        }
      } else if (e.type === 'disconnected') {
        this.#sessions.delete(worker);
        // A handler error is a worker's own re-registration, not a broker problem (ours answer 500).
        if (this.#brokerUp && e.reason !== 'handler-error' && this.running) {
          this.#brokerUp = false;
          this.emit({
            type: 'disconnected',
            server: this.#o.broker,
            reason: e.reason,
            ...(e.silentMs === undefined ? {} : { silentMs: e.silentMs }),
          });
        }
      }
    }
  }

  readonly #onSubmit = async (body: Buffer[]): Promise<readonly Frame[]> => {
    const request = decodeSubmit(body);
    if (typeof request === 'string') return this.#malformed(TSP_SERVICE.REQUEST, request);
    const backlog = this.#dispatcher.backlog + this.#reserved;
    if (backlog >= this.#o.maxBacklog) {
      this.#counters.refused++;
      this.#log.debug({ maxBacklog: this.#o.maxBacklog }, 'backlog full, submission refused with 500');
      if (!this.#backlogFull) {
        this.#backlogFull = true;
        this.#log.warn({ backlog, maxBacklog: this.#o.maxBacklog }, 'backlog full: submissions refused with 500');
        this.emit({ type: 'backlog-full', backlog, maxBacklog: this.#o.maxBacklog });
      }
      return encodeStatus('500');
    }
    if (this.#backlogFull) {
      this.#backlogFull = false;
      this.emit({ type: 'backlog-ok', backlog });
    }
    const key = request.service.toString('latin1');
    const reservedOf = this.#reservedOf.get(key) ?? 0;
    if (this.#dispatcher.pendingOf(request.service) + reservedOf >= this.#o.maxPendingPerService) {
      this.#counters.refused++;
      this.#log.debug(
        { service: request.service.toString('utf8'), maxPendingPerService: this.#o.maxPendingPerService },
        "service's pending bound reached, submission refused with 500",
      );
      return encodeStatus('500');
    }
    // Reserve the room before the commit's await, so that the bounds hold for concurrent
    // submissions; the reservation ends when the request is counted in the backlog, or fails.
    this.#reserved++;
    this.#reservedOf.set(key, reservedOf + 1);
    const uuid = generateUuid();
    try {
      await this.#committer.write({ type: 'request', uuid, service: request.service, body: request.body });
    } catch (err) {
      this.#unreserve(key);
      return this.#internalError(TSP_SERVICE.REQUEST, err);
    }
    // No await between the two: the request moves from the reservation to the backlog at once.
    this.#unreserve(key);
    this.#dispatcher.add(uuid, request.service);
    this.#counters.submitted++;
    return encodeSubmitted(uuid);
  };

  #unreserve(key: string): void {
    this.#reserved--;
    const left = (this.#reservedOf.get(key) ?? 1) - 1;
    if (left === 0) this.#reservedOf.delete(key);
    else this.#reservedOf.set(key, left);
  }

  readonly #onReply = async (body: Buffer[]): Promise<readonly Frame[]> => {
    const uuid = decodeUuidRequest(body);
    if (typeof uuid !== 'string') return this.#malformed(TSP_SERVICE.REPLY, uuid.error);
    this.#counters.replyQueries++;
    try {
      const stored = await this.#store.get(uuid);
      switch (stored.state) {
        case 'replied':
          return encodeReplyReady(stored.body);
        case 'pending':
          return encodeStatus('300');
        case 'unknown':
          return encodeStatus('400');
      }
    } catch (err) {
      return this.#internalError(TSP_SERVICE.REPLY, err);
    }
  };

  readonly #onCloseRequest = async (body: Buffer[]): Promise<readonly Frame[]> => {
    const uuid = decodeUuidRequest(body);
    if (typeof uuid !== 'string') return this.#malformed(TSP_SERVICE.CLOSE, uuid.error);
    this.#dispatcher.remove(uuid);
    try {
      await this.#committer.write({ type: 'close', uuid });
    } catch (err) {
      return this.#internalError(TSP_SERVICE.CLOSE, err);
    }
    this.#counters.closes++;
    return encodeStatus('200');
  };

  /** The retention sweep: one timer, every tenth of the retention (1 s .. 1 h). */
  #scheduleSweep(delayMs: number): void {
    const retention = this.#o.replyRetentionMs;
    if (retention <= 0 || this.closeSignal.aborted) return;
    this.#sweepTimer = this.#o.clock.setTimeout(() => {
      this.#sweepTimer = undefined;
      void this.#sweep(retention).finally(() =>
        this.#scheduleSweep(Math.min(3_600_000, Math.max(1000, Math.floor(retention / 10)))),
      );
    }, delayMs);
  }

  async #sweep(retention: number): Promise<void> {
    const started = Date.now();
    try {
      const expired = await this.#store.expireReplies(started - retention);
      this.#counters.expired += expired;
      if (expired > 0) {
        const durationMs = Date.now() - started;
        this.#log.info({ expired, durationMs, replyRetentionMs: retention }, 'unclosed replies expired');
      }
    } catch (err) {
      this.#log.error({ err: toError(err) }, 'retention sweep failed');
    }
  }

  #malformed(service: string, reason: string): readonly Frame[] {
    this.#counters.malformed++;
    this.#log.warn({ service, reason }, 'malformed request answered 400');
    return encodeStatus('400');
  }

  #internalError(service: string, caught: unknown): readonly Frame[] {
    this.#counters.internalErrors++;
    this.#log.error({ err: toError(caught), service }, 'internal error answered 500');
    return encodeStatus('500');
  }

  /**
   * Graceful stop: the workers finish the request in hand and leave (DISCONNECT), the dispatcher
   * drains briefly, every queued write is committed, the store is closed.
   */
  protected async onClose(): Promise<void> {
    if (this.#sweepTimer !== undefined) this.#o.clock.clearTimeout(this.#sweepTimer);
    this.#sweepTimer = undefined;
    await Promise.allSettled(this.#workers.map((w) => w.close()));
    // After a failed start the store may not be open: handing leases back then fails, harmlessly.
    await this.#dispatcher.close().catch((err: unknown) => {
      this.#log.warn({ err: toError(err) }, 'dispatcher close failed');
    });
    await this.#client.close();
    await this.#committer.close();
    await this.#store.close();
    await Promise.allSettled(this.#relays);
  }
}
