/**
 * The options of `TitanicServer`: what each one means, its default, and the checks
 * `new TitanicServer(options)` makes before it opens anything.
 */
import {
  definedOnly,
  InvalidArgumentError,
  systemClock,
  type Clock,
  type Logger,
  type RetryDelay,
  type SecurityOptions,
} from '@zpatterns/core';
import { dispatcherDefaults } from './dispatcher-options.js';
import type { TitanicStore } from './store.js';

/** Options of `new TitanicServer(options)`; `titanicServerDefaults` holds the defaults. */
export interface TitanicServerOptions {
  /** Broker endpoint, e.g. `tcp://127.0.0.1:5555`. Required. */
  broker: string;
  /**
   * The durable store (e.g. `SqliteStore`, `PostgresStore`, or `MemoryStore` for tests). Required:
   * the server writes nowhere else. `start()` starts it (a store already started is fine) and
   * `close()` closes it.
   */
  store: TitanicStore;
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

type Optional = 'logger' | 'reconnect' | 'security' | 'instance' | 'onStoreCommit';
/** The options with every default applied. */
export type ResolvedServerOptions = Required<Omit<TitanicServerOptions, Optional>> &
  Pick<TitanicServerOptions, Optional>;

/** The server's defaults; see `TitanicServerOptions` for each. */
export const titanicServerDefaults = {
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
} as const satisfies Omit<ResolvedServerOptions, 'broker' | 'store' | Optional>;

/** The options with their defaults, checked; throws `InvalidArgumentError` for a bad one. */
export function resolveServerOptions(options: TitanicServerOptions): ResolvedServerOptions {
  const o: ResolvedServerOptions = {
    ...titanicServerDefaults,
    ...definedOnly(options),
    broker: options.broker,
    store: options.store,
  };
  if (typeof o.broker !== 'string' || o.broker === '')
    throw new InvalidArgumentError('broker: an endpoint is required');
  if (typeof o.store !== 'object' || o.store === null)
    throw new InvalidArgumentError('store: a TitanicStore is required (e.g. SqliteStore, PostgresStore)');
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
  return o;
}
