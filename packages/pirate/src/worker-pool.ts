/**
 * The Paranoid Pirate queue's view of its workers: who is free, who is busy, who is dead.
 *
 * Every worker is one entry, found by its identity and linked into one of two lists with the same
 * TTL (`intervalMs x liveness`). A message from a worker moves its entry to the tail of its list,
 * so both lists stay in expiry order and `purge` is amortised O(1):
 *
 *   ready: free workers, least recently heard-from first; `take()` hands out the head
 *   busy:  workers holding a request; their heartbeats keep them alive but do not free them
 *
 * The lists are linked through the entries themselves: moving a worker between them (twice per
 * request) unlinks and appends the same entry, with no allocation and no hash-table writes.
 *
 * Differences from ppqueue.c, on purpose:
 * - `take()` purges before choosing, so a request never goes to a worker past its expiry.
 * - A HEARTBEAT from a busy worker refreshes its liveness but does not make it ready (the book
 *   treats any sign of life as "ready", which is only harmless for its single-threaded worker):
 *   a worker gets a new request only after it replied, or after it sent READY again.
 * - Busy workers expire too, so a worker that dies mid-request is forgotten.
 */

/** How a message changed a worker's standing. */
export type PoolChange = 'joined' | 'refreshed' | 'freed' | 'still-busy';

interface Entry {
  id: Buffer;
  readonly key: string;
  expiresAt: number;
  list: WorkerList;
  prev: Entry | undefined;
  next: Entry | undefined;
}

/** Entries in the order they were appended (touched): a doubly linked list through the entries. */
class WorkerList {
  head: Entry | undefined;
  tail: Entry | undefined;
  size = 0;

  append(entry: Entry): void {
    entry.list = this;
    entry.prev = this.tail;
    entry.next = undefined;
    if (this.tail === undefined) this.head = entry;
    else this.tail.next = entry;
    this.tail = entry;
    this.size++;
  }

  unlink(entry: Entry): void {
    if (entry.prev === undefined) this.head = entry.next;
    else entry.prev.next = entry.next;
    if (entry.next === undefined) this.tail = entry.prev;
    else entry.next.prev = entry.prev;
    entry.prev = undefined;
    entry.next = undefined;
    this.size--;
  }
}

export class WorkerPool {
  readonly #ttlMs: number;
  readonly #entries = new Map<string, Entry>();
  readonly #ready = new WorkerList();
  readonly #busy = new WorkerList();
  /** The `now` of the last purge. */
  #purgedAt = Number.NaN;

  constructor(expiryMs: number) {
    this.#ttlMs = expiryMs;
  }

  get readyCount(): number {
    return this.#ready.size;
  }

  get busyCount(): number {
    return this.#busy.size;
  }

  get size(): number {
    return this.#entries.size;
  }

  static key(id: Buffer): string {
    return id.toString('latin1');
  }

  isBusy(id: Buffer): boolean {
    return this.#entries.get(WorkerPool.key(id))?.list === this.#busy;
  }

  isReady(id: Buffer): boolean {
    return this.#entries.get(WorkerPool.key(id))?.list === this.#ready;
  }

  /** READY: the worker (re)joins as free. A busy worker that says READY has lost its request. */
  ready(id: Buffer, now: number): PoolChange {
    return this.#free(id, now);
  }

  /** HEARTBEAT: alive. A busy worker stays busy; an unknown one (queue restarted) joins as free. */
  heartbeat(id: Buffer, now: number): PoolChange {
    const entry = this.#entries.get(WorkerPool.key(id));
    if (entry?.list === this.#busy) {
      this.#touch(entry, this.#busy, id, now);
      return 'still-busy';
    }
    return this.#free(id, now, entry);
  }

  /** A reply: the worker is free again. */
  replied(id: Buffer, now: number): PoolChange {
    return this.#free(id, now);
  }

  /** The worker is free, heard from at `now`: at the tail of the ready list. */
  #free(id: Buffer, now: number, known = this.#entries.get(WorkerPool.key(id))): PoolChange {
    if (known === undefined) {
      const entry: Entry = {
        id,
        key: WorkerPool.key(id),
        expiresAt: 0,
        list: this.#ready,
        prev: undefined,
        next: undefined,
      };
      this.#entries.set(entry.key, entry);
      this.#touch(entry, undefined, id, now);
      return 'joined';
    }
    const wasBusy = known.list === this.#busy;
    this.#touch(known, known.list, id, now, this.#ready);
    return wasBusy ? 'freed' : 'refreshed';
  }

  /**
   * Move `entry` from `from` (undefined: in no list yet) to the tail of `to` (the same list by
   * default) with a fresh expiry; a touch dated before the last purge makes the next purge run.
   */
  #touch(entry: Entry, from: WorkerList | undefined, id: Buffer, now: number, to = from ?? this.#ready): void {
    if (now < this.#purgedAt) this.#purgedAt = Number.NaN;
    if (from !== undefined) from.unlink(entry);
    entry.id = id;
    entry.expiresAt = now + this.#ttlMs;
    to.append(entry);
  }

  /**
   * Purge the dead, then take the free worker heard from least recently (the book's LRU order)
   * and mark it busy. `undefined` when no live worker is free.
   */
  take(now: number, onExpired?: (id: Buffer, wasBusy: boolean) => void): Buffer | undefined {
    this.purge(now, onExpired);
    const entry = this.#ready.head;
    if (entry === undefined) return undefined;
    this.#touch(entry, this.#ready, entry.id, now, this.#busy);
    return entry.id;
  }

  /** Forget a worker (it vanished: a send to it failed). Returns whether it was known. */
  remove(id: Buffer): boolean {
    const key = WorkerPool.key(id);
    const entry = this.#entries.get(key);
    if (entry === undefined) return false;
    entry.list.unlink(entry);
    this.#entries.delete(key);
    return true;
  }

  /**
   * Remove every worker whose expiry has passed. A second purge at the same `now` finds nothing
   * (every worker touched since at `now` or later expires after it), so it is skipped: at
   * thousands of requests a second most dispatches share the millisecond of the last purge.
   */
  purge(now: number, onExpired?: (id: Buffer, wasBusy: boolean) => void): number {
    if (now === this.#purgedAt) return 0;
    this.#purgedAt = now;
    return this.#purgeList(this.#ready, now, false, onExpired) + this.#purgeList(this.#busy, now, true, onExpired);
  }

  #purgeList(
    list: WorkerList,
    now: number,
    busy: boolean,
    onExpired: ((id: Buffer, wasBusy: boolean) => void) | undefined,
  ): number {
    let removed = 0;
    for (let entry = list.head; entry !== undefined && entry.expiresAt <= now; entry = list.head) {
      list.unlink(entry);
      this.#entries.delete(entry.key);
      removed++;
      onExpired?.(entry.id, busy);
    }
    return removed;
  }

  /** Every live worker, free or busy: the heartbeat fan-out list. */
  *all(): IterableIterator<Buffer> {
    for (const list of [this.#ready, this.#busy]) {
      for (let entry = list.head; entry !== undefined;) {
        const next = entry.next;
        yield entry.id;
        entry = next;
      }
    }
  }
}
