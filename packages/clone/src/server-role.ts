/**
 * What a server does in each of its roles, and what every role shares. The server keeps one role
 * object at a time (active, passive, deciding) and hands it every client update, flush and tick:
 * no role test in the hot paths.
 */
import type { Clock, Logger } from '@zpatterns/core';
import type { JournalBatch } from './journal-batch.js';
import type { KvMsg } from './kvmsg.js';
import type { PendingUpdates } from './pending.js';
import type { SequencedUuids } from './sequenced.js';
import type { CloneServerRole, CloneServerStats, CloneServerStatus, FaultSource } from './server-status.js';
import type { KvStore } from './store.js';

/** The state and the outlets every role works with (the server owns them). */
export interface ServerContext {
  readonly store: KvStore;
  readonly batch: JournalBatch;
  readonly sequenced: SequencedUuids;
  readonly pending: PendingUpdates;
  readonly stats: CloneServerStats;
  readonly clock: Clock;
  readonly log: Logger;
  /** Whether this server is one of a pair (an active then keeps its term for a split brain). */
  readonly paired: boolean;
  /** Publish on the update PUB (dropped before the server is bound). */
  publish(frames: Buffer[]): void;
  /** A malformed message on `socket`: counted and logged (rate-limited). */
  bad(err: unknown, socket: string, peer?: Buffer): void;
  emit(event: CloneServerStatus): void;
  unhealthy(source: FaultSource, err: Error): void;
}

export interface ServerRole {
  readonly name: CloneServerRole;
  /** A client's update, never sequenced before (the server dropped duplicates). */
  update(update: KvMsg): void;
  /** Commit what is batched: each event-loop turn, before a snapshot, when frozen, on close. */
  flush(): void;
  /** Every `flushIntervalMs`. */
  tick(): void;
  /** Every `hugzIntervalMs`. */
  heartbeat(): void;
  /** The server leaves this role (for another, or to close). */
  leave(): Promise<void>;
}

/** A pair at start, until Binary Star decides: client updates are held. */
export class DecidingRole implements ServerRole {
  readonly name = 'deciding';
  readonly #ctx: ServerContext;

  constructor(ctx: ServerContext) {
    this.#ctx = ctx;
  }

  update(update: KvMsg): void {
    this.#ctx.pending.hold(update);
  }

  flush(): void {
    this.#ctx.batch.commitReplicated();
  }

  tick(): void {}

  heartbeat(): void {}

  async leave(): Promise<void> {}
}
