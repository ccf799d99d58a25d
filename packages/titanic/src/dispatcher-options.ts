/**
 * What the dispatcher needs and offers: the port it sends through, its options and defaults,
 * and its counters.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import {
  exponentialBackoff,
  rules,
  systemClock,
  type Clock,
  type Logger,
  type OptionRules,
  type RequestOptions,
  type RetryDelay,
} from '@zpatterns/core';

/** The slice of `MajordomoClient` the dispatcher uses (a port, so tests can stand in for it). */
export interface DispatchClient {
  /** Send `body` to `service` and resolve with the reply body; rejects on timeout or abort. */
  request(service: string | Buffer, body: readonly Buffer[], options: RequestOptions): Promise<Buffer[]>;
  /**
   * Abandon every request in flight (they reject) and take no more: the dispatcher calls it at
   * `close()`, once its drain is over. A client with it gets no signal per request (a listener
   * added and removed per request); one without it gets the dispatcher's shutdown signal on each.
   */
  close?(): Promise<void>;
}

/** Options of the dispatcher; `dispatcherDefaults` holds the defaults. */
export interface DispatcherOptions {
  /** Requests in flight to services at most. @default 32 */
  concurrency?: number | undefined;
  /**
   * How long one attempt waits for the service's reply before it is abandoned and retried later.
   * Longer than your slowest service, or requests run twice. @default 10000
   */
  dispatchTimeoutMs?: number | undefined;
  /** Delay before re-sending a request after its `n`-th attempt timed out. @default exponential 1 s .. 30 s, jitter 0.2 */
  retryDelay?: RetryDelay | undefined;
  /** Delay before probing a service again after its `n`-th consecutive failure. @default exponential 250 ms .. 5 s, jitter 0.2 */
  serviceRetryDelay?: RetryDelay | undefined;
  /** Ask `mmi.service` before a probe (first contact with a service, or after a failure). @default true */
  mmiCheck?: boolean | undefined;
  /**
   * How long `close()` waits for requests in flight before abandoning them. With a lease store it
   * must be shorter than `leaseMs` (the leases are renewed as the drain begins, and until they are
   * handed back). @default 2000
   */
  drainTimeoutMs?: number | undefined;
  /**
   * Lease stores only: how long a claim holds a request for this instance. Renewed every third of
   * it while the request is queued or in flight; after the instance dies, another one takes the
   * request over within `leaseMs`. Keep it well above a database round trip and restart time;
   * it must be longer than `drainTimeoutMs`. @default 30000
   */
  leaseMs?: number | undefined;
  /**
   * Lease stores only: how often to look for claimable requests (submitted to another instance,
   * released after a failure, or left by a dead instance). Local submissions are claimed at once.
   * @default 1000
   */
  claimIntervalMs?: number | undefined;
  /** Lease stores only: this instance's name in `claimed_by`. @default `<hostname>:<pid>:<random>` */
  instance?: string | undefined;
  /**
   * Lease stores only: delay before the `n`-th retry of a failed claim round or reply write while
   * the database is unreachable. @default exponential 100 ms .. 5 s, jitter 0.2
   */
  storeRetryDelay?: RetryDelay | undefined;
  logger?: Logger | undefined;
  clock?: Clock | undefined;
}

/**
 * The dispatcher's defaults: 32 requests in flight, 10 s per attempt; see `DispatcherOptions` for the rest.
 */
export const dispatcherDefaults = {
  concurrency: 32,
  dispatchTimeoutMs: 10_000,
  retryDelay: exponentialBackoff({ initialMs: 1000, maxMs: 30_000, factor: 2, jitter: 0.2 }),
  serviceRetryDelay: exponentialBackoff({ initialMs: 250, maxMs: 5000, factor: 2, jitter: 0.2 }),
  mmiCheck: true,
  drainTimeoutMs: 2000,
  leaseMs: 30_000,
  claimIntervalMs: 1000,
  storeRetryDelay: exponentialBackoff({ initialMs: 100, maxMs: 5000, factor: 2, jitter: 0.2 }),
  clock: systemClock,
} as const satisfies DispatcherOptions;

/** The checks of the dispatcher's options (as `TitanicServer` options: the names are the same). */
export const dispatcherRules: OptionRules<DispatcherOptions> = {
  concurrency: rules.positiveInteger,
  dispatchTimeoutMs: rules.positive,
  retryDelay: rules.function,
  serviceRetryDelay: rules.function,
  mmiCheck: rules.boolean,
  drainTimeoutMs: rules.nonNegative,
  leaseMs: { must: 'a number >= 10', test: (v) => typeof v === 'number' && v >= 10 && Number.isFinite(v) },
  claimIntervalMs: { must: 'a number >= 1', test: (v) => typeof v === 'number' && v >= 1 && Number.isFinite(v) },
  instance: rules.nonEmptyString,
  storeRetryDelay: rules.function,
};

/** A unique instance name: host, pid and 6 random bytes (a restarted process gets a new one). */
export function newInstanceId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(6).toString('hex')}`;
}

/** Counters of the dispatcher, live fields updated in place. */
export interface DispatcherStats {
  /** Dispatches sent to services (each one MDP request, sent once). */
  sent: number;
  /** Replies recorded. */
  replies: number;
  /** Dispatches that ended in `TimeoutError`: no reply within `dispatchTimeoutMs` (retried later). */
  timeouts: number;
  /** Probes answered "404" by `mmi.service` (no worker). */
  noWorker: number;
  /** Other failures (store errors, broker errors). */
  errors: number;
  /** Requests skipped because they were closed before dispatch. */
  skipped: number;
  /** Lease stores: requests claimed. */
  claimed: number;
  /** Lease stores: leases lost (expired before renewal, or taken over) and dropped unsent. */
  leasesLost: number;
  /** Lease stores: requests handed back with a backoff after a failure. */
  released: number;
  /** Lease stores: claim rounds or renewals that failed (database unreachable). */
  storeErrors: number;
  /** Lease stores: reply writes retried (the database was unreachable when the reply came). */
  replyRetries: number;
}
