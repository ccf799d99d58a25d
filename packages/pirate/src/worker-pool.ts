/**
 * The Paranoid Pirate queue's view of its workers: who is free, who is busy, who is dead.
 *
 * Two `ExpiryList`s with the same TTL (`intervalMs x liveness`), each touched on every message
 * from its worker, so both stay in expiry order and `purge` is amortised O(1):
 *
 *   ready: free workers, least recently heard-from first; `take()` hands out the head
 *   busy:  workers holding a request; their heartbeats keep them alive but do not free them
 *
 * Differences from ppqueue.c, on purpose:
 * - `take()` purges before choosing, so a request never goes to a worker past its expiry.
 * - A HEARTBEAT from a busy worker refreshes its liveness but does not make it ready (the book
 *   treats any sign of life as "ready", which is only harmless for its single-threaded worker):
 *   a worker gets a new request only after it replied, or after it sent READY again.
 * - Busy workers expire too, so a worker that dies mid-request is forgotten.
 */
import { ExpiryList } from '@zpatterns/core/internal';

/** How a message changed a worker's standing. */
export type PoolChange = 'joined' | 'refreshed' | 'freed' | 'still-busy';

export class WorkerPool {
  readonly #ready: ExpiryList<string, Buffer>;
  readonly #busy: ExpiryList<string, Buffer>;
  /** The `now` of the last purge. */
  #purgedAt = Number.NaN;

  constructor(expiryMs: number) {
    this.#ready = new ExpiryList(expiryMs);
    this.#busy = new ExpiryList(expiryMs);
  }

  get readyCount(): number {
    return this.#ready.size;
  }

  get busyCount(): number {
    return this.#busy.size;
  }

  get size(): number {
    return this.#ready.size + this.#busy.size;
  }

  static key(id: Buffer): string {
    return id.toString('latin1');
  }

  isBusy(id: Buffer): boolean {
    return this.#busy.has(WorkerPool.key(id));
  }

  isReady(id: Buffer): boolean {
    return this.#ready.has(WorkerPool.key(id));
  }

  /** READY: the worker (re)joins as free. A busy worker that says READY has lost its request. */
  ready(id: Buffer, now: number): PoolChange {
    const key = WorkerPool.key(id);
    const wasBusy = this.#busy.delete(key);
    const known = wasBusy || this.#ready.has(key);
    this.#touch(this.#ready, key, id, now);
    return wasBusy ? 'freed' : known ? 'refreshed' : 'joined';
  }

  /** HEARTBEAT: alive. A busy worker stays busy; an unknown one (queue restarted) joins as free. */
  heartbeat(id: Buffer, now: number): PoolChange {
    const key = WorkerPool.key(id);
    if (this.#busy.has(key)) {
      this.#touch(this.#busy, key, id, now);
      return 'still-busy';
    }
    const known = this.#ready.has(key);
    this.#touch(this.#ready, key, id, now);
    return known ? 'refreshed' : 'joined';
  }

  /** A reply: the worker is free again. */
  replied(id: Buffer, now: number): PoolChange {
    const key = WorkerPool.key(id);
    const wasBusy = this.#busy.delete(key);
    const known = wasBusy || this.#ready.has(key);
    this.#touch(this.#ready, key, id, now);
    return wasBusy ? 'freed' : known ? 'refreshed' : 'joined';
  }

  /** Touch `key` in `list`; a touch dated before the last purge makes the next purge run. */
  #touch(list: ExpiryList<string, Buffer>, key: string, id: Buffer, now: number): void {
    if (now < this.#purgedAt) this.#purgedAt = Number.NaN;
    list.touch(key, id, now);
  }

  /**
   * Purge the dead, then take the free worker heard from least recently (the book's LRU order)
   * and mark it busy. `undefined` when no live worker is free.
   */
  take(now: number, onExpired?: (id: Buffer, wasBusy: boolean) => void): Buffer | undefined {
    this.purge(now, onExpired);
    for (const [key, id] of this.#ready.entries()) {
      this.#ready.delete(key);
      this.#touch(this.#busy, key, id, now);
      return id;
    }
    return undefined;
  }

  /** Forget a worker (it vanished: a send to it failed). Returns whether it was known. */
  remove(id: Buffer): boolean {
    const key = WorkerPool.key(id);
    const a = this.#ready.delete(key);
    const b = this.#busy.delete(key);
    return a || b;
  }

  /**
   * Remove every worker whose expiry has passed. A second purge at the same `now` finds nothing
   * (every worker touched since at `now` or later expires after it), so it is skipped: at
   * thousands of requests a second most dispatches share the millisecond of the last purge.
   */
  purge(now: number, onExpired?: (id: Buffer, wasBusy: boolean) => void): number {
    if (now === this.#purgedAt) return 0;
    this.#purgedAt = now;
    return (
      this.#ready.purge(now, (_key, id) => onExpired?.(id, false)) +
      this.#busy.purge(now, (_key, id) => onExpired?.(id, true))
    );
  }

  /** Every live worker, free or busy: the heartbeat fan-out list. */
  *all(): IterableIterator<Buffer> {
    yield* this.#ready.values();
    yield* this.#busy.values();
  }
}
