/** What a `CloneServer` reports: its role, its status events, its health and its counters. */
import type {
  ConnectedEvent,
  Logger,
  DisconnectedEvent,
  HealthyEvent,
  ResyncEvent,
  RoleEvent,
  SplitBrainEvent,
  UnhealthyEvent,
} from '@zpatterns/core';

/** Where a server stands. A lone server is always `active`. */
export type CloneServerRole = 'active' | 'passive' | 'deciding';

/** `ok`, or why not. */
export type CloneServerHealth = { ok: true } | { ok: false; reason: string };

/** Counters of one `CloneServer`, from its start. */
export interface CloneServerStats {
  /** Client updates sequenced and published by this server. */
  updates: number;
  /** Snapshot requests (ICANHAZ?) received and accepted by the vote. */
  snapshots: number;
  /** Snapshots abandoned because the client stopped reading or vanished. */
  snapshotsAborted: number;
  /** Snapshot requests that waited for one of the `maxConcurrentSnapshots` slots. */
  snapshotsQueued: number;
  /**
   * Snapshot requests dropped because the wait queue was full, or because the same client (the
   * same connection) already has one running or waiting (the client asks again).
   */
  refusedSnapshots: number;
  /** Keys deleted because their TTL ran out (active only). */
  expired: number;
  /**
   * Malformed messages on any socket, dropped and logged: the public ports, and the links to the
   * peer (HUGZ watch, and a passive's update stream and snapshot), where a connection libzmq
   * closed over a frame past the size limit counts one too (the link is reopened).
   */
  malformed: number;
  /** Snapshot requests dropped because the Binary Star vote went against us. */
  votesRejected: number;
  /** Passive: updates applied from the active. */
  replicated: number;
  /** Passive (or frozen by a split brain): client updates refused because the pending list was full. */
  refused: number;
  /** Passive: pending updates dropped because the live active never published them. */
  pendingExpired: number;
  /** Passive: pending updates dropped by a resync (the snapshot cannot say whether they were sequenced). */
  pendingDropped: number;
  /** Split brains seen (both servers active). */
  splitBrains: number;
  /** Updates this server sequenced while active that it handed to the winner after losing a split brain. */
  splitBrainHandedOver: number;
  /** Client updates dropped because this server had already sequenced their UUID. */
  duplicates: number;
  /** Pending updates published on becoming active. */
  replayed: number;
  /** Journal batches committed. */
  commits: number;
  /**
   * Journal writes that failed. An active's batch is then neither applied nor published; a
   * passive's (applied already) is written by the next write, which replaces the journal whole.
   */
  journalFailures: number;
}

/** Every counter at zero. */
export function zeroStats(): CloneServerStats {
  return {
    updates: 0,
    snapshots: 0,
    snapshotsAborted: 0,
    snapshotsQueued: 0,
    refusedSnapshots: 0,
    expired: 0,
    malformed: 0,
    votesRejected: 0,
    replicated: 0,
    refused: 0,
    pendingExpired: 0,
    pendingDropped: 0,
    splitBrains: 0,
    splitBrainHandedOver: 0,
    duplicates: 0,
    replayed: 0,
    commits: 0,
    journalFailures: 0,
  };
}

/**
 * What `server.status()` yields besides `started` and `closed`, each as core's vocabulary defines it:
 * - `role` {from, to}: the server's role changed (`deciding`, `active`, `passive`): a pair
 *   decided, failed over, or resolved a split brain;
 * - `split-brain` {peer, stays, sequence, peerSequence}: both servers of the pair were active; the
 *   data decided which one stays. Once per split brain, when decided: both sides froze their
 *   sequence and exchanged it (`peerSequence` is absent when the peer stopped being active first);
 * - `unhealthy` {reason, error} when a journal commit or the passive's replica loop failed, and
 *   `healthy` once nothing is wrong again;
 * - on a passive, how it follows its active peer (`peer` is the peer's snapshot endpoint):
 *   `connected` when a snapshot of the peer is applied, `disconnected` {reason: 'silent',
 *   silentMs} when the peer was silent for `peerTtlMs` (the passive asks it again), `resync`
 *   {reason: `gap`, `behind` or `restart`} when it takes a new snapshot.
 */
export type CloneServerStatus =
  RoleEvent | SplitBrainEvent | UnhealthyEvent | HealthyEvent | ConnectedEvent | DisconnectedEvent | ResyncEvent;

/** What can make a server unhealthy. */
export type FaultSource = 'replica' | 'journal';

/**
 * The server's faults by source: healthy when there are none. The server reports `unhealthy` when
 * the first fault comes and `healthy` when the last one clears, and logs each.
 */
export class ServerHealth {
  readonly #faults = new Map<FaultSource, string>();
  readonly #log: Logger;
  readonly #emit: (event: UnhealthyEvent | HealthyEvent) => void;

  constructor(log: Logger, emit: (event: UnhealthyEvent | HealthyEvent) => void) {
    this.#log = log;
    this.#emit = emit;
  }

  get state(): CloneServerHealth {
    const [reason] = this.#faults.values();
    return reason === undefined ? { ok: true } : { ok: false, reason };
  }

  fail(source: FaultSource, err: Error): void {
    const wasOk = this.#faults.size === 0;
    const reason = `${source}: ${err.message}`;
    this.#faults.set(source, reason);
    this.#log.error({ err, what: source }, 'clone server unhealthy');
    if (wasOk) this.#emit({ type: 'unhealthy', reason, error: err });
  }

  recover(source: FaultSource): void {
    if (!this.#faults.delete(source)) return;
    const healthy = this.#faults.size === 0;
    this.#log.warn({ what: source, healthy }, 'clone server recovered');
    if (healthy) this.#emit({ type: 'healthy' });
  }
}
