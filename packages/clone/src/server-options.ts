/** The options of a `CloneServer`, their defaults and their validation. */
import type { Clock, Logger, OptionRule, ResolvedOptions, SecurityOptions } from '@zpatterns/core';
import { DEFAULT_MAX_MESSAGE_BYTES, invalidOption, resolveOptions, rules } from '@zpatterns/core';
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
  peer:
    string | (Omit<CloneServerAddress, 'collector'> & { collector?: string | undefined; hugz?: string | undefined });
  /** Binary Star heartbeat; the peer is dead after two. @default 1000 */
  heartbeatIntervalMs?: number | undefined;
}

/** The peer of a pair as endpoints (its collector and HUGZ publisher optional). */
export type ClonePeerAddress = Exclude<ClonePairOptions['peer'], string>;

/** Options of `new CloneServer(options)`; `cloneServerDefaults` holds the defaults. */
export interface CloneServerOptions {
  /** Snapshot ROUTER endpoint to bind (port P). @default `tcp://127.0.0.1:*` */
  snapshotBind?: string | undefined;
  /** Update PUB endpoint to bind (P+1). @default `tcp://127.0.0.1:*` */
  publisherBind?: string | undefined;
  /** Collector SUB endpoint to bind (P+2). @default `tcp://127.0.0.1:*` */
  collectorBind?: string | undefined;
  /** HUGZ (the server's heartbeat) interval. @default 1000 */
  heartbeatIntervalMs?: number | undefined;
  /** TTL flush interval. @default 1000 */
  flushIntervalMs?: number | undefined;
  /** Run as one of a Binary Star pair. @default alone */
  pair?: ClonePairOptions | undefined;
  /**
   * Keep the map in SQLite here, so a restart keeps it and its sequence. Needs the optional
   * `better-sqlite3` package. @default memory only
   */
  dataDir?: string | undefined;
  /** Fsync every commit (`synchronous = FULL`); else WAL with NORMAL. @default false */
  fsync?: boolean | undefined;
  /**
   * Passive server: client updates held while not yet seen from the active. Past this, new ones
   * are refused (counted in `refused`). @default 100000
   */
  maxPending?: number | undefined;
  /** Passive server: a pending update the live active has not published within this is dropped. @default 10000 */
  pendingTtlMs?: number | undefined;
  /** Passive server: how long the active may stay silent before the passive resyncs. @default 5000 */
  peerTtlMs?: number | undefined;
  /** A snapshot that makes no progress this long (the client not reading) is abandoned. @default 2000 */
  snapshotSendTimeoutMs?: number | undefined;
  /**
   * Snapshots copied and sent at once (each holds a copy of the map); more wait their turn, up to
   * 10,000 waiting. @default 8
   */
  maxConcurrentSnapshots?: number | undefined;
  /** Socket linger. @default 0 */
  lingerMs?: number | undefined;
  /**
   * Largest frame a peer may send, on the three sockets and the links to the pair's peer; libzmq
   * drops the connection of a peer that sends a bigger one. -1: no limit. @default 16777216 (16 MiB)
   */
  maxMessageBytes?: number | undefined;
  /** CURVE on the three sockets (and, for a pair, on the link to the peer with the same keys). */
  security?: SecurityOptions | undefined;
  /** Time source of the HUGZ, expiry and pending timers (a `ManualClock` in tests). @default systemClock */
  clock?: Clock | undefined;
  /** Parent logger. @default silent */
  logger?: Logger | undefined;
}

/**
 * The server's defaults: loopback endpoints on kernel-chosen ports, HUGZ every 1000 ms; see `CloneServerOptions`.
 */
export const cloneServerDefaults = {
  snapshotBind: 'tcp://127.0.0.1:*',
  publisherBind: 'tcp://127.0.0.1:*',
  collectorBind: 'tcp://127.0.0.1:*',
  heartbeatIntervalMs: 1000,
  flushIntervalMs: 1000,
  maxPending: 100_000,
  pendingTtlMs: 10_000,
  peerTtlMs: 5000,
  snapshotSendTimeoutMs: 2000,
  maxConcurrentSnapshots: 8,
  lingerMs: 0,
  maxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES,
  fsync: false,
} as const;

/** The three endpoints of the book's port layout: P, P+1, P+2 on `host`. */
export function portEndpoints(
  port: number,
  host = '127.0.0.1',
): { snapshotBind: string; publisherBind: string; collectorBind: string } {
  return {
    snapshotBind: `tcp://${host}:${port}`,
    publisherBind: `tcp://${host}:${port + 1}`,
    collectorBind: `tcp://${host}:${port + 2}`,
  };
}

/** The options with every default filled in. */
export type ResolvedServerOptions = ResolvedOptions<CloneServerOptions, typeof cloneServerDefaults>;

/** libzmq's frame limit: whole bytes, at least 1, or -1 for none. */
const frameLimit: OptionRule = {
  must: 'a whole number of bytes >= 1, or -1',
  test: (v) => v === -1 || rules.positiveInteger.test(v),
};

/** Fill in the defaults and check every value; throws `InvalidArgumentError`. */
export function resolveServerOptions(options: CloneServerOptions | undefined): ResolvedServerOptions {
  const o = resolveOptions('CloneServer', options, cloneServerDefaults, {
    snapshotBind: rules.nonEmptyString,
    publisherBind: rules.nonEmptyString,
    collectorBind: rules.nonEmptyString,
    heartbeatIntervalMs: rules.positive,
    flushIntervalMs: rules.positive,
    maxPending: rules.positiveInteger,
    pendingTtlMs: rules.positive,
    peerTtlMs: rules.positive,
    snapshotSendTimeoutMs: rules.positive,
    maxConcurrentSnapshots: rules.positiveInteger,
    lingerMs: rules.nonNegative,
    maxMessageBytes: frameLimit,
    fsync: rules.boolean,
  });
  const heartbeat = o.pair?.heartbeatIntervalMs;
  if (heartbeat !== undefined && !rules.positive.test(heartbeat)) {
    throw invalidOption('CloneServer', 'pair.heartbeatIntervalMs', rules.positive.must, heartbeat);
  }
  return o;
}
