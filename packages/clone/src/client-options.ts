/**
 * What a `CloneClient` takes and reports: its options and their defaults, its status events, its
 * counters, and the options of its calls.
 */
import type {
  Clock,
  ConnectedEvent,
  DisconnectedEvent,
  FailoverEvent,
  Logger,
  OptionRules,
  RequestOptions,
  ResyncEvent,
  SecurityOptions,
} from '@zpatterns/core';
import { rules } from '@zpatterns/core';
import type { CloneServerAddress } from './address.js';

/** Options of `new CloneClient(options)`; `cloneClientDefaults` holds the defaults. */
export interface CloneClientOptions {
  /**
   * One server, or the two of a pair, in failover order. A string `tcp://HOST:P` stands for the
   * book's layout: snapshot P, updates P+1, collector P+2.
   */
  servers: readonly (string | CloneServerAddress)[];
  /** Subtrees to follow (key prefixes such as `/config/`). @default [''] (everything) */
  subtrees?: readonly string[] | undefined;
  /** A server silent this long (no update, no HUGZ) is presumed dead. @default 5000 (SERVER_TTL) */
  peerTtlMs?: number | undefined;
  /** How long close() lets unsent updates go out. @default 200 */
  lingerMs?: number | undefined;
  /** How long `commit()` waits for the server's sequence when the call gives no `timeoutMs`. @default 10000 */
  timeoutMs?: number | undefined;
  /** Changes a `watch()` consumer may fall behind by before its iterator fails. @default 10000 */
  maxWatchBacklog?: number | undefined;
  /** CURVE: connect to CURVE servers. @default plain */
  security?: SecurityOptions | undefined;
  /** Time source of the server-silence and back-off timers (a `ManualClock` in tests). @default systemClock */
  clock?: Clock | undefined;
  /** Parent logger. @default silent */
  logger?: Logger | undefined;
}

/** The defaults of `CloneClientOptions`. */
export const cloneClientDefaults = {
  subtrees: [''] as readonly string[],
  peerTtlMs: 5000,
  lingerMs: 200,
  timeoutMs: 10_000,
  maxWatchBacklog: 10_000,
} as const;

/** What each option of `CloneClientOptions` must be. */
export const cloneClientRules: OptionRules<CloneClientOptions> = {
  servers: rules.nonEmptyArray,
  subtrees: rules.nonEmptyArray,
  peerTtlMs: rules.positive,
  lingerMs: rules.nonNegative,
  timeoutMs: rules.positiveOrInfinity,
  maxWatchBacklog: rules.positiveInteger,
};

/** A change seen by `watch()`: `value` undefined means deleted. */
export interface CloneChange {
  /** The key that changed. */
  key: string;
  /** Its new value; `undefined` when the key was deleted (or expired). */
  value: Buffer | undefined;
  /** The update's sequence; for changes found by a new snapshot, the snapshot's. */
  sequence: bigint;
}

/**
 * What `client.status()` yields besides `started` and `closed`; `peer` is a server's snapshot
 * endpoint (`tcp://HOST:P` for a server given as a string).
 *
 * - `connected`: the server answered: its snapshot is applied and the client follows it (at start
 *   and after each failover).
 * - `disconnected`: a server was silent for `peerTtlMs` (no update, no HUGZ, no snapshot reply);
 *   `reason` is always `silent`, `silentMs` how long.
 * - `failover`: the client moved to the next server of the list after `from` went silent.
 * - `resync`: the replica takes a new snapshot from the server it follows: `gap` (an update was
 *   missed), `silent` (a HUGZ shows the server ahead: the last updates never arrived), `restart`
 *   (a HUGZ shows the server behind: it restarted without its data).
 */
export type CloneClientStatus = ConnectedEvent | DisconnectedEvent | FailoverEvent | ResyncEvent;

/** Options of `CloneClient.watch()`. */
export interface WatchOptions {
  /** Abandon the iteration: the pending `next()` rejects with `AbortError` (its `cause` the signal's reason). */
  signal?: AbortSignal | undefined;
}

/** Counters of one `CloneClient`, from its start. */
export interface CloneClientStats {
  /** Complete snapshots received (the first one and every resync). */
  snapshots: number;
  /** Updates applied to the replica, in sequence order. */
  updates: number;
  /** Updates dropped because the replica already held that sequence or a later one. */
  stale: number;
  /** Sequence gaps seen (a missed update): each leads to a resync from a fresh snapshot. */
  gaps: number;
  /** Moves to the other server of a pair after the current one was silent for `peerTtlMs`. */
  failovers: number;
  /** Snapshot requests that got no complete answer within `peerTtlMs`. */
  snapshotTimeouts: number;
  /** Malformed messages from a server, dropped and logged. */
  malformed: number;
  /** Updates published to the servers. */
  sent: number;
  /** Watchers ended because they fell more than `maxWatchBacklog` changes behind. */
  watchOverflows: number;
  /** `commit()` calls waiting for their sequence now. */
  commitsPending: number;
}

/** What `set()` takes besides the key and value. */
export interface SetOptions {
  /** Time to live of the key, rounded up to whole seconds on the wire; none when omitted. */
  ttlMs?: number | undefined;
}

/** Options of `CloneClient.commit()`: core's `{ timeoutMs, signal }` and the key's time to live. */
export interface CommitOptions extends Pick<RequestOptions, 'timeoutMs' | 'signal'> {
  /** Time to live of the key, rounded up to whole seconds on the wire; none when omitted. */
  ttlMs?: number | undefined;
}
