/**
 * The options of `TitanicServer`: what each one means, its default, and the checks
 * `new TitanicServer(options)` makes before it opens anything.
 */
import {
  invalidOption,
  resolveOptions,
  rules,
  systemClock,
  type Clock,
  type Logger,
  type OptionRule,
  type OptionRules,
  type ResolvedOptions,
  type RetryDelay,
  type SecurityOptions,
} from '@zpatterns/core';
import { dispatcherDefaults, dispatcherRules } from './dispatcher-options.js';
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
  requestWorkers?: number | undefined;
  /** Workers registered for `titanic.reply` and for `titanic.close` (each). @default 8 */
  replyWorkers?: number | undefined;
  /** Requests in flight to services at most. @default 32 */
  concurrency?: number | undefined;
  /** Dispatch attempt timeout; longer than the slowest service. @default 10000 */
  dispatchTimeoutMs?: number | undefined;
  /** Delay before re-sending a request after its `n`-th timeout. @default exponential 1 s .. 30 s */
  retryDelay?: RetryDelay | undefined;
  /** Delay before probing a failing service again. @default exponential 250 ms .. 5 s */
  serviceRetryDelay?: RetryDelay | undefined;
  /** Ask `mmi.service` before a probe (first contact with a service, or after a failure). @default true */
  mmiCheck?: boolean | undefined;
  /** MDP heartbeat interval of the workers; must match the broker's. @default 2500 */
  heartbeatIntervalMs?: number | undefined;
  /** MDP liveness of the workers. @default 3 */
  liveness?: number | undefined;
  /** The workers' reconnect policy after the broker is lost. @default the worker's (2.5 s .. 32 s) */
  reconnectDelay?: RetryDelay | undefined;
  /**
   * Delete a reply no client has closed this long after it was recorded (0 keeps replies until
   * `titanic.close`, as 9/TSP has it). The retention limit keeps replies whose UUID a client lost
   * from piling up. @default 604800000 (7 days)
   */
  replyRetentionMs?: number | undefined;
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
  maxBacklog?: number | undefined;
  /**
   * The bound per target service: a submission for a service that already has this many requests
   * stored and unanswered is refused with "500", so that one client flooding a made-up or dead
   * service cannot fill `maxBacklog` and have everyone else refused. Counted like `maxBacklog`
   * (store-wide, refreshed every second, with a lease store). @default 125000 (the book's 100,000 pipelined requests to one service are accepted whole; half of `maxBacklog`)
   */
  maxPendingPerService?: number | undefined;
  /** Lease stores (PostgreSQL): how long a claim holds a request; longer than `drainTimeoutMs`. @default 30000 */
  leaseMs?: number | undefined;
  /**
   * How long `close()` waits for requests in flight before abandoning them. Lease stores renew the
   * leases meanwhile, and refuse (`InvalidArgumentError`) a drain not shorter than `leaseMs`. @default 2000
   */
  drainTimeoutMs?: number | undefined;
  /** Lease stores: how often to look for claimable requests. @default 1000 */
  claimIntervalMs?: number | undefined;
  /** Lease stores: this instance's name in the leases. @default `<hostname>:<pid>:<random>` */
  instance?: string | undefined;
  /**
   * Frames in one message from the broker at most, for the TSP workers and the dispatching client
   * (keep it the broker's bound); a message with more is dropped and counted in `stats.oversize`.
   * @default Majordomo's (256)
   */
  maxFramesPerMessage?: number | undefined;
  /**
   * Bytes in one message from the broker at most, all frames together, for the same sockets and
   * with the same treatment as `maxFramesPerMessage`. @default Majordomo's (16 MiB)
   */
  maxMessageBytes?: number | undefined;
  /** Parent logger. @default silent */
  logger?: Logger | undefined;
  /** Time source of the timers (heartbeats, dispatch timeouts, retries, the sweep). @default systemClock */
  clock?: Clock | undefined;
}

/** The server's defaults; see `TitanicServerOptions` for each. */
export const titanicServerDefaults = {
  requestWorkers: 32,
  replyWorkers: 8,
  concurrency: dispatcherDefaults.concurrency,
  dispatchTimeoutMs: dispatcherDefaults.dispatchTimeoutMs,
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
} as const satisfies Omit<TitanicServerOptions, 'broker' | 'store'>;

/** The options with every default applied. */
export type ResolvedServerOptions = ResolvedOptions<TitanicServerOptions, typeof titanicServerDefaults> & {
  readonly broker: string;
  readonly store: TitanicStore;
};

const required: { readonly broker: OptionRule; readonly store: OptionRule } = {
  broker: rules.nonEmptyString,
  store: {
    must: 'a TitanicStore (e.g. SqliteStore, PostgresStore)',
    test: (v) => typeof v === 'object' && v !== null && typeof (v as { write?: unknown }).write === 'function',
  },
};

/** The checks of the options, the dispatcher's among them (it checks them again, by the same rules). */
const serverRules: OptionRules<TitanicServerOptions> = {
  ...required,
  ...dispatcherRules,
  requestWorkers: rules.positiveInteger,
  replyWorkers: rules.positiveInteger,
  heartbeatIntervalMs: rules.positive,
  liveness: rules.positiveInteger,
  reconnectDelay: rules.function,
  replyRetentionMs: rules.nonNegative,
  maxBacklog: rules.positiveInteger,
  maxPendingPerService: rules.positiveInteger,
  maxFramesPerMessage: rules.positiveInteger,
  maxMessageBytes: rules.positiveInteger,
};

/** The options with their defaults, checked; throws `InvalidArgumentError` for a bad one. */
export function resolveServerOptions(options: TitanicServerOptions): ResolvedServerOptions {
  const o = resolveOptions('TitanicServer', options, titanicServerDefaults, serverRules);
  // Required, so without a default: resolveOptions leaves an absent one to the type.
  for (const key of ['broker', 'store'] as const) {
    if (o[key] === undefined) throw invalidOption('TitanicServer', key, required[key].must, undefined);
  }
  return o as ResolvedServerOptions;
}
