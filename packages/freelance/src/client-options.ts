/**
 * The `FreelanceClient`'s public shapes: its options and their defaults (the book's timings), the
 * per-call options, what it reports of each server, its status events and its counters; and the
 * validation of the options.
 */
import { definedOnly, systemClock, type Clock, type Logger, type SecurityOptions } from '@zpatterns/core';
import type { ServerAliveStatus, ServerDeadStatus } from '@zpatterns/core';
import { FreelanceOptionsError } from './errors.js';
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
  strategy?: FreelanceStrategy;
  /** A request's whole budget, waiting for a live server included. @default 3000 (GLOBAL_TIMEOUT) */
  timeoutMs?: number;
  /** Wait this long for one server's reply before resending to the next live server. @default 1000 */
  attemptTimeoutMs?: number;
  /** Resends after the first send (on server death or attempt timeout). @default 2 */
  retries?: number;
  /** Ping a server after this long without hearing from it. @default 2000 (PING_INTERVAL) */
  pingIntervalMs?: number;
  /** A server silent this long is dead. @default 6000 (SERVER_TTL) */
  serverTtlMs?: number;
  /** Ping period for servers not (or no longer) connected; also the agent's tick. @default 100 */
  connectPingMs?: number;
  /**
   * Messages queued to one server at most (libzmq's send high-water mark, per connection). Past it
   * a send fails at once (EAGAIN): counted in `stats.refusedSends`, one warning per second, and
   * the request is resent to the next live server after `attemptTimeoutMs` (or times out). 1,000
   * carries the book's workloads (flclient's requests one at a time); raise it to pipeline more
   * than that to one server. @default 1000
   */
  sendHighWaterMark?: number;
  /** This client's routing id. @default random (libzmq) */
  routingId?: string;
  /** Time source for deadlines, attempt timers, pings and server expiry. @default systemClock */
  clock?: Clock;
  /**
   * CURVE to every server (which then share one key pair): this side's keys and the servers'
   * public key. @default undefined (plain)
   */
  security?: SecurityOptions | undefined;
  /** Parent logger. @default silent */
  logger?: Logger;
}

/** The client's defaults: the book's timings (GLOBAL_TIMEOUT, PING_INTERVAL, SERVER_TTL). */
export const freelanceClientDefaults = {
  strategy: 'priority',
  timeoutMs: 3000,
  attemptTimeoutMs: 1000,
  retries: 2,
  pingIntervalMs: 2000,
  serverTtlMs: 6000,
  connectPingMs: 100,
  sendHighWaterMark: 1000,
} as const satisfies Partial<FreelanceClientOptions>;

/** Per-call options of `request()`. */
export interface FreelanceRequestOptions {
  /** Abandon the request: it rejects with `AbortError` and a late reply is dropped. */
  signal?: AbortSignal | undefined;
  /** Bounds the whole request (every attempt and the wait for a live server); overrides the client's `timeoutMs`. */
  timeoutMs?: number | undefined;
  /** Overrides the client's `attemptTimeoutMs` for this request. */
  attemptTimeoutMs?: number | undefined;
}

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
 * The client's status events, beside `started` and `closed` (see `status()`): a server comes
 * alive (its first PONG or reply, or its first after it was dead), or dies (silent for
 * `serverTtlMs`, or a send to it refused as unreachable). Requests go only to live servers.
 */
export type FreelanceClientStatus = ServerAliveStatus | ServerDeadStatus;

/** Counters of one `FreelanceClient`, as a snapshot (see `stats`). */
export interface FreelanceClientStats {
  /** Requests made (`request()` calls accepted). */
  requests: number;
  /** Requests answered. */
  replies: number;
  /** Sends after the first, on a server's death or an attempt timeout. */
  resends: number;
  /** Requests that ran out of time or attempts (`FreelanceTimeoutError`). */
  timeouts: number;
  /** Replies for a request already answered (or unknown): dropped. */
  duplicates: number;
  /** Times a live server was declared dead. */
  serverDeaths: number;
  /** Messages that were not 10/FLP, or came from an unknown server: dropped. */
  malformed: number;
  /** Sends (requests or pings) refused at a server's `sendHighWaterMark` (EAGAIN); requests are resent later. */
  refusedSends: number;
}

/** The options with every default applied (the client's own reading of them). */
export type ResolvedClientOptions = Required<Omit<FreelanceClientOptions, 'routingId' | 'logger' | 'security'>> &
  Pick<FreelanceClientOptions, 'routingId' | 'logger' | 'security'>;

/** Apply the defaults to `options` and check them; throws `FreelanceOptionsError` naming the option. */
export function resolveClientOptions(options: FreelanceClientOptions): ResolvedClientOptions {
  const o = { ...freelanceClientDefaults, clock: systemClock, ...definedOnly(options) };
  for (const name of [
    'timeoutMs',
    'attemptTimeoutMs',
    'pingIntervalMs',
    'serverTtlMs',
    'connectPingMs',
    'sendHighWaterMark',
  ] as const) {
    if (!(o[name] > 0)) throw new FreelanceOptionsError(`${name} must be > 0, got ${o[name]}`);
  }
  if (!Number.isInteger(o.retries) || o.retries < 0) {
    throw new FreelanceOptionsError(`retries must be an integer >= 0, got ${o.retries}`);
  }
  if (!['priority', 'round-robin', 'all'].includes(o.strategy)) {
    throw new FreelanceOptionsError(`strategy must be priority, round-robin or all, got ${String(o.strategy)}`);
  }
  if (!Array.isArray(options.servers) || options.servers.length === 0) {
    throw new FreelanceOptionsError('servers must list at least one endpoint');
  }
  return o;
}
