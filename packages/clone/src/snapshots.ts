/**
 * Snapshots (ICANHAZ? on the snapshot ROUTER): each one a copy of the committed map, or of a
 * subtree, sent at the client's pace and ended by KTHXBAI with the sequence it adds up to.
 *
 * After a failover every client asks at once, and each snapshot in flight holds a copy of the map:
 * only `maxConcurrent` are copied and sent at a time, the rest wait their turn (up to 10,000), and
 * a client (a connection) has one running or waiting at most.
 */
import type { Clock, Logger, Message } from '@zpatterns/core';
import type { Channel } from '@zpatterns/core/internal';
import { toError } from '@zpatterns/core';
import { hex } from '@zpatterns/core/internal';
import type * as zmq from 'zeromq';
import { decodeIcanhaz, encodeKthxbai, encodeKvMsg, type KvMsg } from './kvmsg.js';
import type { CloneServerStats } from './server-status.js';
import type { KvStore } from './store.js';

/** Snapshot requests that may wait for a slot; more are dropped. */
const MAX_QUEUED_SNAPSHOTS = 10_000;

export interface SnapshotServiceOptions {
  /** The snapshot ROUTER (`mandatory`, with a send timeout). */
  channel: Channel<zmq.Router>;
  store: KvStore;
  clock: Clock;
  log: Logger;
  stats: CloneServerStats;
  maxConcurrent: number;
  /** Aborted when the server closes. */
  closeSignal: AbortSignal;
  /** Commit what is batched: a snapshot shows only committed state. */
  flush(): void;
  /** A malformed request: counted and logged. */
  bad(err: unknown, identity: Buffer): void;
}

export class SnapshotService {
  readonly #o: SnapshotServiceOptions;
  #running = 0;
  readonly #queue: { identity: Buffer; subtree: string }[] = [];
  /** Clients (identities, hex) with a snapshot running or waiting: one each at most. */
  readonly #peers = new Set<string>();

  constructor(options: SnapshotServiceOptions) {
    this.#o = options;
  }

  /** An ICANHAZ? (after the vote, in a pair). */
  request(message: Message): void {
    const [identity, ...rest] = message;
    if (identity === undefined) return;
    let subtree: string;
    try {
      subtree = decodeIcanhaz(rest);
    } catch (err) {
      this.#o.bad(err, identity);
      return;
    }
    const stats = this.#o.stats;
    stats.snapshots += 1;
    const peer = hex(identity);
    if (this.#peers.has(peer)) {
      stats.snapshotsRefused += 1; // one at a time per client: a peer cannot fill the queue
      return;
    }
    if (this.#running < this.#o.maxConcurrent) {
      this.#peers.add(peer);
      this.#start(identity, subtree);
      return;
    }
    if (this.#queue.length >= MAX_QUEUED_SNAPSHOTS) {
      stats.snapshotsRefused += 1; // the client times out and asks again
      return;
    }
    stats.snapshotsQueued += 1;
    this.#peers.add(peer);
    this.#queue.push({ identity, subtree });
  }

  /** Commit what is queued, take the entries and their sequence now, and send them at the client's pace. */
  #start(identity: Buffer, subtree: string): void {
    const { store, clock } = this.#o;
    this.#o.flush();
    const entries = [...store.snapshot(subtree, clock.now())];
    this.#running += 1;
    void this.#send(identity, entries, store.sequence, subtree).finally(() => {
      this.#running -= 1;
      this.#peers.delete(hex(identity));
      const next = this.#queue.shift();
      if (next !== undefined && !this.#o.closeSignal.aborted) this.#start(next.identity, next.subtree);
    });
  }

  /**
   * One message at a time, each awaited: a snapshot larger than the socket's high-water mark waits
   * for the client to read instead of being cut short, and a client that stops reading (or is
   * gone) ends only its own snapshot, without KTHXBAI, so it times out and asks again rather
   * than taking a partial map for a whole one.
   */
  async #send(identity: Buffer, entries: KvMsg[], sequence: bigint, subtree: string): Promise<void> {
    const channel = this.#o.channel;
    try {
      for (const msg of entries) await channel.send([identity, ...encodeKvMsg(msg)]);
      await channel.send([identity, ...encodeKthxbai(sequence, subtree)]);
    } catch (err) {
      if (this.#o.closeSignal.aborted) return;
      this.#o.stats.snapshotsAborted += 1;
      this.#o.log.warn(
        { peer: hex(identity), entries: entries.length, reason: toError(err).message },
        'snapshot abandoned: the client is not reading',
      );
    }
  }
}
