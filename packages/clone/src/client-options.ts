/**
 * What a `CloneClient` takes and reports: its options and their defaults, its status events, its
 * counters, and the options of its calls.
 */
import type { Clock, Logger, SecurityOptions, ServerDeadStatus, StartOptions } from '@zpatterns/core';
import type { CloneServerAddress } from './address.js';
import type { ResyncReason } from './cursor.js';

/** Options of `new CloneClient(options)`; `cloneClientDefaults` holds the defaults. */
export interface CloneClientOptions {
  /**
   * One server, or the two of a pair, in failover order. A string `tcp://HOST:P` stands for the
   * book's layout: snapshot P, updates P+1, collector P+2.
   */
  servers: readonly (string | CloneServerAddress)[];
  /** Subtrees to follow (key prefixes such as `/config/`). @default [''] (everything) */
  subtrees?: readonly string[];
  /** A server silent this long (no update, no HUGZ) is presumed dead. @default 5000 (SERVER_TTL) */
  serverTtlMs?: number;
  /** How long close() lets unsent updates go out. @default 200 */
  lingerMs?: number;
  /** How long `commit()` waits for the server's sequence. @default 10000 */
  commitTimeoutMs?: number;
  /** Changes a `watch()` consumer may fall behind by before its iterator fails. @default 10000 */
  maxWatchBacklog?: number;
  /** CURVE: connect to CURVE servers. @default plain */
  security?: SecurityOptions | undefined;
  /** Time source of the server-silence and back-off timers (a `ManualClock` in tests). @default systemClock */
  clock?: Clock | undefined;
  /** Parent logger. @default silent */
  logger?: Logger;
}

/** The defaults of `CloneClientOptions`. */
export const cloneClientDefaults = {
  subtrees: [''] as readonly string[],
  serverTtlMs: 5000,
  lingerMs: 200,
  commitTimeoutMs: 10_000,
  maxWatchBacklog: 10_000,
} as const;

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
 * What `client.status()` yields besides `started` and `closed`; `server` is the server's snapshot
 * endpoint (`tcp://HOST:P` for a server given as a string). `server-dead`: the server followed
 * was silent for `serverTtlMs` (no update, no HUGZ, no snapshot reply).
 */
export type CloneClientStatus =
  | {
      /** A snapshot from `server` is applied and the client follows it (at start and after each failover). */
      readonly type: 'connected';
      /** The server now followed. */
      readonly server: string;
    }
  | ServerDeadStatus
  | {
      /** The client moved to the next server of the list after `from` went silent. */
      readonly type: 'failover';
      /** The server given up on. */
      readonly from: string;
      /** The server asked for a snapshot next. */
      readonly to: string;
    }
  | {
      /** The replica takes a new snapshot from the server it follows. */
      readonly type: 'resync';
      /** The server the snapshot is taken from. */
      readonly server: string;
      /**
       * `gap`: an update was missed; `hugz`: a HUGZ shows the server ahead (the last updates were
       * missed); `restart`: a HUGZ shows the server behind (it restarted without its data).
       */
      readonly reason: ResyncReason;
    };

/** Options of `CloneClient.start()`. */
export interface CloneStartOptions extends StartOptions {
  /**
   * Reject with `TimeoutError` (and close the client) when no server has answered within this
   * long. @default unbounded (the client keeps trying each server in turn)
   */
  timeoutMs?: number | undefined;
}

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
  /** Moves to the other server of a pair after the current one was silent for `serverTtlMs`. */
  failovers: number;
  /** Snapshot requests that got no complete answer within `serverTtlMs`. */
  snapshotTimeouts: number;
  /** Malformed messages from a server, dropped and logged. */
  badMessages: number;
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

/** Options of `CloneClient.commit()`. */
export interface CommitOptions {
  /** Time to live of the key, rounded up to whole seconds on the wire; none when omitted. */
  ttlMs?: number | undefined;
  /** Reject with `TimeoutError` after this long. @default the client's `commitTimeoutMs` */
  timeoutMs?: number | undefined;
  /** Reject with `AbortError` (its `cause` the signal's reason) when this fires. */
  signal?: AbortSignal | undefined;
}
