/** The options of a `CloneServer`, their defaults and their validation. */
import type { Clock, Logger, SecurityOptions } from '@zpatterns/core';
import { definedOnly, InvalidArgumentError } from '@zpatterns/core';
import type { BStarRole } from '@zpatterns/bstar';
import type { CloneServerAddress } from './address.js';

/** The Binary Star side of a pair. */
export interface ClonePairOptions {
  /** `primary` or `backup`: which side of the pair this server is. */
  role: BStarRole;
  /** Our Binary Star state PUB (the book's 5003 / 5004). */
  stateBind: string;
  /** The peer's state PUB. */
  stateConnect: string;
  /**
   * The peer's Clone port P as `tcp://HOST:P`, or its snapshot and publisher endpoints (and its
   * collector, where a server that loses a split brain hands its divergent updates; and `hugz`,
   * where its HUGZ are heard, the publisher unless given: the sequence they last showed is logged
   * beside a split brain's outcome; the decision itself is made on the numbers both exchange).
   */
  peer: string | (Omit<CloneServerAddress, 'collector'> & { collector?: string; hugz?: string });
  /** Binary Star heartbeat; the peer is dead after two. @default 1000 */
  heartbeatMs?: number;
}

/** The peer of a pair as endpoints (its collector and HUGZ publisher optional). */
export type ClonePeerAddress = Exclude<ClonePairOptions['peer'], string>;

/** Options of `new CloneServer(options)`; `cloneServerDefaults` holds the defaults. */
export interface CloneServerOptions {
  /** Snapshot ROUTER endpoint (port P). @default `tcp://127.0.0.1:*` */
  snapshotEndpoint?: string;
  /** Update PUB endpoint (P+1). @default `tcp://127.0.0.1:*` */
  publisherEndpoint?: string;
  /** Collector SUB endpoint (P+2). @default `tcp://127.0.0.1:*` */
  collectorEndpoint?: string;
  /** HUGZ interval. @default 1000 */
  hugzIntervalMs?: number;
  /** TTL flush interval. @default 1000 */
  flushIntervalMs?: number;
  /** Run as one of a Binary Star pair. @default alone */
  pair?: ClonePairOptions | undefined;
  /**
   * Keep the map in SQLite here, so a restart keeps it and its sequence. Needs the optional
   * `better-sqlite3` package. @default memory only
   */
  dataDir?: string | undefined;
  /** Fsync every commit (`synchronous = FULL`); else WAL with NORMAL. @default false */
  fsync?: boolean;
  /**
   * Passive server: client updates held while not yet seen from the active. Past this, new ones
   * are refused (counted in `pendingRefused`). @default 100000
   */
  maxPending?: number;
  /** Passive server: a pending update the live active has not published within this is dropped. @default 10000 */
  pendingTtlMs?: number;
  /** Passive server: how long the active may stay silent before the passive resyncs. @default 5000 */
  peerTtlMs?: number;
  /** A snapshot send blocked this long (the client not reading) abandons that snapshot. @default 2000 */
  snapshotSendTimeoutMs?: number;
  /**
   * Snapshots copied and sent at once (each holds a copy of the map); more wait their turn, up to
   * 10,000 waiting. @default 8
   */
  maxConcurrentSnapshots?: number;
  /** Socket linger. @default 0 */
  lingerMs?: number;
  /** CURVE on the three sockets (and, for a pair, on the link to the peer with the same keys). */
  security?: SecurityOptions | undefined;
  /** Time source of the HUGZ, expiry and pending timers (a `ManualClock` in tests). @default systemClock */
  clock?: Clock;
  /** Parent logger. @default silent */
  logger?: Logger;
}

/**
 * The server's defaults: loopback endpoints on kernel-chosen ports, HUGZ every 1000 ms; see `CloneServerOptions`.
 */
export const cloneServerDefaults = {
  snapshotEndpoint: 'tcp://127.0.0.1:*',
  publisherEndpoint: 'tcp://127.0.0.1:*',
  collectorEndpoint: 'tcp://127.0.0.1:*',
  hugzIntervalMs: 1000,
  flushIntervalMs: 1000,
  maxPending: 100_000,
  pendingTtlMs: 10_000,
  peerTtlMs: 5000,
  snapshotSendTimeoutMs: 2000,
  maxConcurrentSnapshots: 8,
  lingerMs: 0,
  fsync: false,
} as const;

/** The three endpoints of the book's port layout: P, P+1, P+2 on `host`. */
export function portEndpoints(
  port: number,
  host = '127.0.0.1',
): Pick<Required<CloneServerOptions>, 'snapshotEndpoint' | 'publisherEndpoint' | 'collectorEndpoint'> {
  return {
    snapshotEndpoint: `tcp://${host}:${port}`,
    publisherEndpoint: `tcp://${host}:${port + 1}`,
    collectorEndpoint: `tcp://${host}:${port + 2}`,
  };
}

/** The options with every default filled in (the objects, clock and logger aside). */
export type ResolvedServerOptions = Required<
  Omit<CloneServerOptions, 'clock' | 'logger' | 'pair' | 'dataDir' | 'security'>
>;

/** Fill in the defaults and check every number; throws `InvalidArgumentError`. */
export function resolveServerOptions(options: CloneServerOptions): ResolvedServerOptions {
  const o: ResolvedServerOptions = { ...cloneServerDefaults, ...definedOnly(options) };
  for (const name of [
    'hugzIntervalMs',
    'flushIntervalMs',
    'maxPending',
    'pendingTtlMs',
    'peerTtlMs',
    'snapshotSendTimeoutMs',
    'maxConcurrentSnapshots',
  ] as const) {
    if (!(o[name] > 0)) throw new InvalidArgumentError(`clone server: ${name} must be > 0, got ${o[name]}`);
  }
  if (!(o.lingerMs >= 0)) throw new InvalidArgumentError('clone server: lingerMs must be >= 0');
  return o;
}
