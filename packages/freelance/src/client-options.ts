/**
 * The `FreelanceClient`'s public shapes: its options and their defaults (the book's timings), what
 * it reports of each server, its status events and its counters; and the check of the options.
 */
import {
  invalidOption,
  oneOf,
  resolveOptions,
  rules,
  systemClock,
  type Clock,
  type ConnectedEvent,
  type DisconnectedEvent,
  type Logger,
  type ResolvedOptions,
  type SecurityOptions,
} from '@zpatterns/core';
import type { FreelanceStrategy, ServerState } from './servers.js';

/** Options of `new FreelanceClient(options)`; `freelanceClientDefaults` holds the defaults. */
export interface FreelanceClientOptions {
  /** Server endpoints (each server's routing id), in priority order; at least one. */
  servers: readonly string[];
  /**
   * `priority`: the first live server in order (the book's model three; with retries, model one's
   * sequential failover). `round-robin`: live servers in turn. `all`: every live server at once,
   * first reply wins (the book's model two). @default 'priority'
   */
  strategy?: FreelanceStrategy | undefined;
  /**
   * A request's whole budget, every attempt and the wait for a live server included; `request()`
   * can override it. @default 3000 (GLOBAL_TIMEOUT)
   */
  timeoutMs?: number | undefined;
  /** Wait this long for one server's reply before resending to the next live server. @default 1000 */
  attemptTimeoutMs?: number | undefined;
  /** Resends after the first send (on server death or attempt timeout). @default 2 */
  retries?: number | undefined;
  /** Ping a live server after this long without hearing from it. @default 2000 (PING_INTERVAL) */
  heartbeatIntervalMs?: number | undefined;
  /** A server silent this long is lost (`disconnected`). @default 6000 (SERVER_TTL) */
  peerTtlMs?: number | undefined;
  /** Ping period for servers not (or no longer) connected; also the agent's tick. @default 100 */
  connectPingMs?: number | undefined;
  /**
   * Messages queued to one server at most (libzmq's send high-water mark, per connection). Past it
   * a send fails at once (EAGAIN): counted in `stats.refusedSends`, one warning per second, and
   * the request is resent to the next live server after `attemptTimeoutMs` (or times out). 1,000
   * carries the book's workloads (flclient's requests one at a time); raise it to pipeline more
   * than that to one server. @default 1000
   */
  sendHighWaterMark?: number | undefined;
  /** This client's routing id. @default random (libzmq) */
  routingId?: string | undefined;
  /** Time source for deadlines, attempt timers, pings and server expiry. @default systemClock */
  clock?: Clock | undefined;
  /**
   * CURVE to every server (which then share one key pair): this side's keys and the servers'
   * public key. @default undefined (plain)
   */
  security?: SecurityOptions | undefined;
  /** Parent logger. @default silent */
  logger?: Logger | undefined;
}

/** The client's defaults: the book's timings (GLOBAL_TIMEOUT, PING_INTERVAL, SERVER_TTL). */
export const freelanceClientDefaults = {
  strategy: 'priority',
  timeoutMs: 3000,
  attemptTimeoutMs: 1000,
  retries: 2,
  heartbeatIntervalMs: 2000,
  peerTtlMs: 6000,
  connectPingMs: 100,
  sendHighWaterMark: 1000,
} as const satisfies Partial<FreelanceClientOptions>;

/** One server as the client sees it, in `client.servers`. */
export interface FreelanceServerInfo {
  /** The server's endpoint, which is also its routing id. */
  readonly endpoint: string;
  /** `connecting` until its first message, then `alive`, or `dead` after silence or an unreachable send. */
  readonly state: ServerState;
  /** `state === 'alive'`. */
  readonly alive: boolean;
  /** Requests sent to it (every attempt counts). */
  readonly sent: number;
  /** Replies received from it. */
  readonly replies: number;
  /** Attempts in flight on it now. */
  readonly inFlight: number;
}

/**
 * The client's status events, beside `started` and `closed` (see `status()`), one per server:
 * `connected` when a server answers (its first PONG or reply, or its first after it was lost),
 * `disconnected` (`reason: 'silent'`) when it is lost: silent for `peerTtlMs`, or a send to it
 * refused as unreachable (`silentMs` is how long it had been silent). Requests go only to servers
 * that are connected.
 */
export type FreelanceClientStatus = ConnectedEvent | DisconnectedEvent;

/** Counters of one `FreelanceClient`, as a snapshot (see `stats`). */
export interface FreelanceClientStats {
  /** Requests made (`request()` calls accepted). */
  requests: number;
  /** Requests answered. */
  replies: number;
  /** Sends after the first, on a server's loss or an attempt timeout. */
  retries: number;
  /** Requests that ran out of time or attempts (`TimeoutError`). */
  timeouts: number;
  /** Replies for a request already answered (or unknown): dropped. */
  duplicates: number;
  /** Times a connected server was lost (each one a `disconnected` event). */
  serverDeaths: number;
  /** Messages that were not 10/FLP, or came from an unknown server: dropped. */
  malformed: number;
  /** Sends (requests or pings) refused at a server's `sendHighWaterMark` (EAGAIN); requests are resent later. */
  refusedSends: number;
}

/** The options with every default applied (the client's own reading of them). */
export type ResolvedClientOptions = ResolvedOptions<FreelanceClientOptions, typeof clientDefaults>;

const clientDefaults = { ...freelanceClientDefaults, clock: systemClock };

/** Apply the defaults to `options` and check them; throws `InvalidArgumentError` naming the option. */
export function resolveClientOptions(options: FreelanceClientOptions): ResolvedClientOptions {
  // Required, so resolveOptions (which checks only what is given or defaulted) cannot see it missing.
  if (!rules.nonEmptyArray.test(options.servers)) {
    throw invalidOption('FreelanceClient', 'servers', rules.nonEmptyArray.must, options.servers);
  }
  return resolveOptions('FreelanceClient', options, clientDefaults, {
    strategy: oneOf<FreelanceStrategy>('priority', 'round-robin', 'all'),
    timeoutMs: rules.positiveOrInfinity,
    attemptTimeoutMs: rules.positiveOrInfinity,
    retries: rules.nonNegativeIntegerOrInfinity,
    heartbeatIntervalMs: rules.positive,
    peerTtlMs: rules.positive,
    connectPingMs: rules.positive,
    sendHighWaterMark: rules.positiveInteger,
  });
}
