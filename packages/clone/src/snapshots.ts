/**
 * Snapshots (ICANHAZ? on the snapshot ROUTER): each one a copy of the committed map, or of a
 * subtree, sent at the client's pace and ended by KTHXBAI with the sequence it adds up to.
 *
 * After a failover every client asks at once, and each snapshot in flight holds a copy of the map:
 * only `maxConcurrent` are copied and sent at a time, the rest wait their turn (up to 10,000), and
 * a client (a connection) has one running or waiting at most.
 *
 * The copy is of each entry's frames as published (the store keeps them), sent as they are on the
 * snapshot ROUTER, a `directSend` channel on a socket with `sendTimeout: 0`: each message is handed
 * to libzmq inside the send call, without the channel's queue. At the client's high-water mark a
 * send fails with EAGAIN; the snapshot then waits (1 ms at a time) and sends that message again,
 * so it is never cut short, and it is abandoned only when nothing went for `sendTimeoutMs`.
 */
import type { Clock, Logger, Message } from '@zpatterns/core';
import type { Channel } from '@zpatterns/core/internal';
import { toError } from '@zpatterns/core';
import { hex } from '@zpatterns/core/internal';
import type * as zmq from 'zeromq';
import { setTimeout as sleep, setImmediate as nextTurn } from 'node:timers/promises';
import { decodeIcanhaz, encodeKthxbai } from './kvmsg.js';
import type { CloneServerStats } from './server-status.js';
import type { KvStore } from './store.js';

/** Snapshot requests that may wait for a slot; more are dropped. */
const MAX_QUEUED_SNAPSHOTS = 10_000;
/** Messages sent back to back before the event loop gets a turn (libzmq takes them at once). */
const SENDS_PER_TURN = 256;

export interface SnapshotServiceOptions {
  /** The snapshot ROUTER: `mandatory`, `sendTimeout: 0`, a `directSend` channel. */
  channel: Channel<zmq.Router>;
  /** A client that reads nothing for this long loses its snapshot. */
  sendTimeoutMs: number;
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
      stats.refusedSnapshots += 1; // one at a time per client: a peer cannot fill the queue
      return;
    }
    if (this.#running < this.#o.maxConcurrent) {
      this.#peers.add(peer);
      this.#start(identity, subtree);
      return;
    }
    if (this.#queue.length >= MAX_QUEUED_SNAPSHOTS) {
      stats.refusedSnapshots += 1; // the client times out and asks again
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
    const entries = store.snapshotFrames(subtree, clock.now());
    this.#running += 1;
    void this.#send(identity, entries, store.sequence, subtree).finally(() => {
      this.#running -= 1;
      this.#peers.delete(hex(identity));
      const next = this.#queue.shift();
      if (next !== undefined && !this.#o.closeSignal.aborted) this.#start(next.identity, next.subtree);
    });
  }

  /**
   * One message at a time, each awaited: a snapshot larger than the client's high-water mark waits
   * for the client to read instead of being cut short, and a client that stops reading (or is
   * gone) ends only its own snapshot, without KTHXBAI, so it times out and asks again rather
   * than taking a partial map for a whole one.
   */
  async #send(identity: Buffer, entries: Buffer[][], sequence: bigint, subtree: string): Promise<void> {
    const { channel, closeSignal } = this.#o;
    try {
      const last = entries.length;
      let stalledSince = -1;
      for (let i = 0; i <= last;) {
        const frames = i < last ? entries[i] : encodeKthxbai(sequence, subtree);
        try {
          await channel.send([identity, ...(frames as Buffer[])]);
        } catch (err) {
          if (!isFull(err) || closeSignal.aborted) throw err;
          // the client's pipe is full: wait for it to read, up to sendTimeoutMs without progress
          const now = performance.now();
          if (stalledSince < 0) stalledSince = now;
          else if (now - stalledSince >= this.#o.sendTimeoutMs) throw err;
          await sleep(1);
          continue;
        }
        stalledSince = -1;
        i += 1;
        if (i % SENDS_PER_TURN === 0) await nextTurn();
      }
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

/** A send refused at the client's high-water mark (`sendTimeout: 0`). */
function isFull(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === 'EAGAIN';
}
