/**
 * Group commit: many concurrent writers, one durable commit per batch.
 *
 * `write(w)` queues the write and resolves once the batch holding it is durable. A flush is
 * scheduled with `setImmediate`, so every write issued during the current event-loop turn (all
 * the MDP requests that libzmq delivered together) joins the same batch; writes that arrive while
 * a commit is running join the next one. Durability then costs one fsync per batch instead of one
 * per request, while no request is acknowledged before its commit. A store that commits
 * synchronously (`writeNow`: SQLite) has its batch committed inside the turn's callback. Every
 * write of a batch waits on the batch's one promise (no promise, resolver pair or record per
 * write). One whose commit costs nothing (`commitIsFree`: in memory) is written at once instead,
 * without a batch (`immediate`).
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

/** Writes committed together, and the one promise they all wait on. */
interface Batch {
  readonly writes: StoreWrite[];
  readonly done: Promise<void>;
  resolve: () => void;
  reject: (err: Error) => void;
}

function newBatch(): Batch {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const done = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { writes: [], done, resolve, reject };
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
  /** Batches waiting for a commit, oldest first; writes join the last until it holds `maxBatch`. */
  #batches: Batch[] = [];
  #queued = 0;
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
    return this.#queued;
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

  /**
   * Queue `write`; resolves once it is durable, rejects if its batch fails to commit. Every write of
   * a batch gets the same promise (one per batch, not one per write).
   */
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
    let batch = this.#batches.at(-1);
    if (batch === undefined || batch.writes.length >= this.#maxBatch) {
      batch = newBatch();
      this.#batches.push(batch);
    }
    batch.writes.push(write);
    this.#queued++;
    this.#schedule();
    return batch.done;
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
    if (this.#flushing !== undefined || this.#batches.length === 0) return;
    if (this.#store.writeNow === undefined) this.#flushing = this.#flush();
    else this.#commitNow();
  }

  /**
   * A store that commits synchronously: the oldest batch (up to `maxBatch` writes) committed in
   * this call; nothing can arrive meanwhile. The next batch waits for the next turn.
   */
  #commitNow(): void {
    const batch = this.#take();
    try {
      this.#store.writeNow?.(batch.writes);
      this.#committed(batch);
    } catch (caught) {
      this.#failed(batch, caught);
    }
    if (this.#batches.length > 0) this.#schedule();
  }

  /** The oldest batch, out of the queue: writes from now on join a new one. */
  #take(): Batch {
    const batch = this.#batches.shift() as Batch;
    this.#queued -= batch.writes.length;
    return batch;
  }

  #committed(batch: Batch): void {
    this.#stats.batches++;
    this.#stats.writes += batch.writes.length;
    batch.resolve();
  }

  #failed(batch: Batch, caught: unknown): void {
    const err = toError(caught);
    this.#stats.failedBatches++;
    this.#log.error({ err, writes: batch.writes.length }, 'commit failed');
    batch.reject(err);
  }

  async #flush(): Promise<void> {
    try {
      while (this.#batches.length > 0) {
        const batch = this.#take();
        try {
          await this.#store.write(batch.writes);
          this.#committed(batch);
        } catch (caught) {
          this.#failed(batch, caught);
        }
        // Let the writes that arrived during this commit gather before the next one.
        if (this.#batches.length > 0) await new Promise<void>((resolve) => setImmediate(resolve));
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
      else if (this.#batches.length > 0) this.#startFlush();
      else return;
    }
  }
}
