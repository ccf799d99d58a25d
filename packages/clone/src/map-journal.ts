/**
 * A server's journal kept in step with its map: the journal never records a sequence beyond the
 * map it holds.
 *
 * An active commits a batch before applying it, so a failed commit leaves journal and map alike.
 * A passive applies its peer's updates (or a whole snapshot) first: when that commit fails the
 * journal is behind, and the next write replaces it with the whole map instead of adding a batch
 * and a newer sequence on top of a map that lacks the failed one. While writes fail, `retry()`
 * (every flush tick) tries again with no update due, so the failure clears as soon as the disk
 * takes writes.
 */
import type { CloneJournal, JournalWrite } from './journal.js';
import type { KvMsg } from './kvmsg.js';
import { type KvStore, ttlRemainingMs } from './store.js';

/** What the server hears from its journal. */
export interface MapJournalEvents {
  /** A write failed (`updates` it held); the server is unhealthy until `recovered`. */
  failed(err: unknown, updates: number): void;
  /** A write succeeded after failures. */
  recovered(): void;
  /** A batch or a whole map was committed. */
  committed(): void;
}

export class MapJournal {
  readonly #journal: CloneJournal;
  readonly #store: KvStore;
  readonly #now: () => number;
  readonly #events: MapJournalEvents;
  /** The journal does not hold the map: the next write replaces it whole. */
  #behind = false;
  #failing = false;

  constructor(journal: CloneJournal, store: KvStore, now: () => number, events: MapJournalEvents) {
    this.#journal = journal;
    this.#store = store;
    this.#now = now;
    this.#events = events;
  }

  get path(): string {
    return this.#journal.path;
  }

  /**
   * Commit `batch`, which reaches `sequence`, on top of the map the journal holds; when the
   * journal is behind, it is first replaced with the whole map (which on an active does not hold
   * the batch yet). False when either failed.
   */
  write(batch: readonly KvMsg[], sequence: bigint): boolean {
    if (!this.sync()) return false;
    try {
      this.#journal.write(toWrites(batch), sequence);
      this.#ok(true);
      return true;
    } catch (err) {
      this.#failed(err, batch.length);
      return false;
    }
  }

  /** The map holds what the journal does not (a passive's failed commit, a new snapshot). */
  markBehind(): void {
    this.#behind = true;
  }

  /** When behind, replace the journal with the whole map. False when that failed. */
  sync(): boolean {
    if (!this.#behind) return true;
    const entries = [...this.#store.snapshot('', this.#now())];
    try {
      this.#journal.replace(toWrites(entries), this.#store.sequence);
      this.#behind = false;
      this.#ok(true);
      return true;
    } catch (err) {
      this.#failed(err, entries.length);
      return false;
    }
  }

  /** While writes fail: catch up (behind), or commit the sequence alone to see the disk is back. */
  retry(): void {
    if (!this.#failing) return;
    if (this.#behind) {
      this.sync();
      return;
    }
    try {
      this.#journal.write([], this.#store.sequence);
      this.#ok(false);
    } catch {
      // still failing: counted and logged once already, retried at the next tick
    }
  }

  close(): void {
    this.#journal.close();
  }

  #ok(committed: boolean): void {
    if (committed) this.#events.committed();
    if (!this.#failing) return;
    this.#failing = false;
    this.#events.recovered();
  }

  #failed(err: unknown, updates: number): void {
    this.#failing = true;
    this.#events.failed(err, updates);
  }
}

/** Journal rows: each entry's TTL left as a wall-clock deadline (0 = none; deletes none). */
function toWrites(msgs: readonly KvMsg[]): JournalWrite[] {
  const wall = Date.now();
  return msgs.map((msg) => {
    const left = msg.body.length === 0 ? 0 : ttlRemainingMs(msg.properties);
    return { msg, expiresAtWallMs: left === 0 ? 0 : wall + left };
  });
}
