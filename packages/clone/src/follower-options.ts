/**
 * What a replica loop (`Follower`) is given and what it reports: the servers it reads from, its
 * callbacks, its events and its counters. Shared by the client agent and the passive server of a
 * pair; neither of them is imported here.
 */
import type { Clock, Logger, SecurityOptions } from '@zpatterns/core';
import type { ResyncReason } from './cursor.js';
import type { KvMsg } from './kvmsg.js';

/** The two sockets a replica reads from one server. */
export interface ReplicaSource {
  /** The server's snapshot ROUTER (port P). */
  snapshot: string;
  /** The server's update PUB (port P+1). */
  publisher: string;
}

/** What the loop reports as it goes; servers are indexes into `sources`. */
export type FollowerEvent =
  | { readonly type: 'connected'; readonly server: number }
  | { readonly type: 'server-dead'; readonly server: number; readonly silentMs: number }
  | { readonly type: 'failover'; readonly from: number; readonly to: number }
  | { readonly type: 'resync'; readonly server: number; readonly reason: ResyncReason };

/** Options of `new Follower(options)`. */
export interface FollowerOptions {
  /** The servers, in failover order. */
  sources: readonly ReplicaSource[];
  /** Subtrees to follow; `''` is everything. */
  subtrees: readonly string[];
  /** A server silent this long (no update, no HUGZ, no snapshot reply) is presumed dead. */
  serverTtlMs: number;
  /** Linger of the subscriber. */
  lingerMs: number;
  /** CURVE toward the servers. */
  security?: SecurityOptions | undefined;
  /** Where warnings go. */
  logger: Logger;
  /** Time source of the silence and back-off timers. @default systemClock */
  clock?: Clock | undefined;
  /** A complete snapshot: replaces the replica's state. */
  onSnapshot(entries: KvMsg[], sequence: bigint, source: number): void;
  /** One update in order (deletes have an empty body). */
  onUpdate(msg: KvMsg): void;
  /** A HUGZ from the server followed, for liveness users. */
  onHugz?(msg: KvMsg): void;
  /** A change a user would act on: connected, a server dead, a failover, a resync. */
  onEvent?(event: FollowerEvent): void;
  /**
   * Apply the process's frame limit (core's `applyPeerLimits`) to both sockets, as a server's
   * bound sockets have it: a server following its peer. @default false
   */
  limitFrames?: boolean;
  /** The frame limit `limitFrames` applies, in bytes. @default `DEFAULT_MAX_MESSAGE_BYTES` (16 MiB) */
  maxMessageBytes?: number | undefined;
  /**
   * A message dropped: not a kvmsg (`subscriber` or `snapshot` socket), or a connection libzmq
   * closed over a frame past the limit (the link is reopened; a snapshot under way starts over).
   */
  onBadMessage?(socket: 'subscriber' | 'snapshot', reason: string): void;
}

/**
 * The follower's counters, from its start. The client's `CloneClientStats` includes them and
 * documents each (they are public there, not here).
 */
export interface FollowerStats {
  snapshots: number;
  updates: number;
  stale: number;
  gaps: number;
  failovers: number;
  snapshotTimeouts: number;
  malformed: number;
}
