/**
 * Group commit: many concurrent writers, one durable commit per batch.
 *
 * `write(w)` queues the write and resolves once the batch holding it is durable. A flush is
 * scheduled with `setImmediate`, so every write issued during the current event-loop turn (all
 * the MDP requests that libzmq delivered together) joins the same batch; writes that arrive while
 * a commit is running join the next one. Durability then costs one fsync per batch instead of one
 * per request, while no request is acknowledged before its commit. A store that commits
 * synchronously (`writeNow`: SQLite) has its batch committed inside the turn's callback, with no
 * promise per batch; one whose commit costs nothing (`commitIsFree`: in memory) is written at once
 * instead, without a batch (`immediate`).
 *
 *   worker 1 ─ write ─┐                 ┌─ resolve ─> "200"
 *   worker 2 ─ write ─┼─ batch ─ COMMIT ┼─ resolve ─> "200"
 *   worker 3 ─ write ─┘    (one fsync)  └─ resolve ─> "200"
 */
import { ClosedError, InvalidStateError, toError, type Logger } from '@zpatterns/core';
import { componentLogger } from '@zpatterns/core/internal';
import type { StoreWrite, TitanicStore } from './store.js';

/** Options of `new GroupCommitter(store, options)`. */
export interface GroupCommitterOptions {
  /** Most writes per commit; more wait for the next one. @default 4096 */
  maxBatch?: number | undefined;
  logger?: Logger | undefined;
}

/** The group committer's default: at most 4096 writes per batch. */
export const groupCommitterDefaults = {
  maxBatch: 4096,
} as const satisfies GroupCommitterOptions;

interface Queued {
  write: StoreWrite;
  resolve: () => void;
  reject: (err: Error) => void;
}

/** Counters of a `GroupCommitter`, live fields updated in place. */
export interface GroupCommitStats {
  batches: number;
  writes: number;
  failedBatches: number;
}

/**
 * Group commit: `write(w)` queues a write and resolves once the batch holding it is durable, so many
 * concurrent writers cost one store commit per batch (one fsync). Writes after `close()` reject with
 * `ClosedError`; a failed commit rejects every write of its batch with the store's error.
 */
export class GroupCommitter {
  readonly #stats: GroupCommitStats = { batches: 0, writes: 0, failedBatches: 0 };
  readonly #store: TitanicStore;
  readonly #maxBatch: number;
  readonly #log: Logger;
  #queue: Queued[] = [];
  #scheduled = false;
  #flushing: Promise<void> | undefined;
  #closed = false;

  /** A snapshot of the counters; read it again for fresh figures. */
  get stats(): GroupCommitStats {
    return { ...this.#stats };
  }
  constructor(store: TitanicStore, options: GroupCommitterOptions = {}) {
    this.#store = store;
    this.#maxBatch = options.maxBatch ?? groupCommitterDefaults.maxBatch;
    this.#log = componentLogger(options.logger, { component: 'group-commit' });
  }

  /** Writes waiting for a commit. */
  get queued(): number {
    return this.#queue.length;
  }

  /**
   * True when the store commits synchronously and for nothing (`writeNow` and `commitIsFree`: the
   * store in memory): writes are applied one by one as they come (`writeNow` here), not batched.
   */
  get immediate(): boolean {
    return this.#store.commitIsFree === true && this.#store.writeNow !== undefined;
  }

  /**
   * Only when `immediate`: apply `write` now, synchronously. Throws `ClosedError` after `close()`,
   * the store's error when the commit fails, `InvalidStateError` when the store is not immediate.
   */
  writeNow(write: StoreWrite): void {
    const store = this.#store;
    if (this.#closed) throw new ClosedError('group committer');
    if (store.writeNow === undefined || store.commitIsFree !== true) {
      throw new InvalidStateError('GroupCommitter: the store does not commit at once for free');
    }
    try {
      store.writeNow([write]);
    } catch (caught) {
      const err = toError(caught);
      this.#stats.failedBatches++;
      this.#log.error({ err, writes: 1 }, 'commit failed');
      throw err;
    }
    this.#stats.batches++;
    this.#stats.writes++;
  }

  /** Queue `write`; resolves once it is durable, rejects if its batch fails to commit. */
  write(write: StoreWrite): Promise<void> {
    if (this.#closed) return Promise.reject(new ClosedError('group committer'));
    if (this.immediate) {
      try {
        this.writeNow(write);
        return Promise.resolve();
      } catch (err) {
        return Promise.reject(toError(err));
      }
    }
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ write, resolve, reject });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled || this.#flushing !== undefined) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#startFlush();
    });
  }

  #startFlush(): void {
    if (this.#flushing !== undefined || this.#queue.length === 0) return;
    if (this.#store.writeNow === undefined) this.#flushing = this.#flush();
    else this.#commitNow();
  }

  /**
   * A store that commits synchronously: the queued writes (up to `maxBatch`) committed in this
   * call; nothing can arrive meanwhile. What is over `maxBatch` waits for the next turn.
   */
  #commitNow(): void {
    const batch = this.#take();
    try {
      this.#store.writeNow?.(batch.map((q) => q.write));
      this.#committed(batch);
    } catch (caught) {
      this.#failed(batch, caught);
    }
    if (this.#queue.length > 0) this.#schedule();
  }

  /** The next batch, out of the queue. */
  #take(): Queued[] {
    const batch = this.#queue.length <= this.#maxBatch ? this.#queue : this.#queue.slice(0, this.#maxBatch);
    this.#queue = batch === this.#queue ? [] : this.#queue.slice(this.#maxBatch);
    return batch;
  }

  #committed(batch: readonly Queued[]): void {
    this.#stats.batches++;
    this.#stats.writes += batch.length;
    for (const q of batch) q.resolve();
  }

  #failed(batch: readonly Queued[], caught: unknown): void {
    const err = toError(caught);
    this.#stats.failedBatches++;
    this.#log.error({ err, writes: batch.length }, 'commit failed');
    for (const q of batch) q.reject(err);
  }

  async #flush(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const batch = this.#take();
        try {
          await this.#store.write(batch.map((q) => q.write));
          this.#committed(batch);
        } catch (caught) {
          this.#failed(batch, caught);
        }
        // Let the writes that arrived during this commit gather before the next one.
        if (this.#queue.length > 0) await new Promise<void>((resolve) => setImmediate(resolve));
      }
    } finally {
      this.#flushing = undefined;
    }
  }

  /** Commit everything queued, then refuse new writes. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    for (;;) {
      if (this.#flushing !== undefined) await this.#flushing;
      else if (this.#scheduled) await new Promise<void>((resolve) => setImmediate(resolve));
      else if (this.#queue.length > 0) this.#startFlush();
      else return;
    }
  }
}
