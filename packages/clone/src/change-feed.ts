/**
 * The client's `watch()` iterators: each watcher has a prefix and a bounded queue of changes; a
 * change is pushed to every watcher whose prefix it falls under, and a watcher too far behind is
 * ended with `WatchOverflowError` (the others go on).
 *
 * ```
 *  replica --change--> ChangeFeed --+--> watcher '/a/'  queue -> for await ...
 *                                   +--> watcher ''     queue -> for await ...
 * ```
 */
import type { Logger } from '@zpatterns/core';
import { AbortError } from '@zpatterns/core';
import type { CloneChange } from './client-options.js';
import { WatchOverflowError } from './errors.js';
import type { KvMsg } from './kvmsg.js';
import { inSubtree } from './kvmsg.js';

interface Watcher {
  prefix: string;
  queue: CloneChange[];
  failed: WatchOverflowError | undefined;
  wake: (() => void) | undefined;
}

/** The watchers of one client. */
export class ChangeFeed {
  readonly #watchers = new Set<Watcher>();
  readonly #maxBacklog: number;
  readonly #log: Logger;
  #overflows = 0;

  /** @param maxBacklog - changes a watcher may fall behind by before it is ended */
  constructor(maxBacklog: number, log: Logger) {
    this.#maxBacklog = maxBacklog;
    this.#log = log;
  }

  /** Watchers ended for falling too far behind, so far. */
  get overflows(): number {
    return this.#overflows;
  }

  /** Whether anyone watches (a snapshot's differences are computed only then). */
  get watched(): boolean {
    return this.#watchers.size > 0;
  }

  /**
   * Changes under `prefix` from now on. `break` (or `return()`) ends it quietly and unsubscribes;
   * `signal` firing makes the pending (or next) `next()` reject with `AbortError`; `closing`
   * firing (the client closes) ends it quietly. A watcher too far behind throws its
   * `WatchOverflowError`.
   */
  async *watch(prefix: string, closing: AbortSignal, signal: AbortSignal | undefined): AsyncGenerator<CloneChange> {
    const w: Watcher = { prefix, queue: [], failed: undefined, wake: undefined };
    const onAbort = (): void => w.wake?.();
    signal?.addEventListener('abort', onAbort);
    closing.addEventListener('abort', onAbort);
    this.#watchers.add(w);
    try {
      for (;;) {
        if (signal?.aborted === true) throw new AbortError('clone watch aborted', { cause: signal.reason });
        if (closing.aborted) return;
        const next = w.queue.shift();
        if (next !== undefined) {
          yield next;
          continue;
        }
        if (w.failed !== undefined) throw w.failed;
        await new Promise<void>((r) => (w.wake = r));
        w.wake = undefined;
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      closing.removeEventListener('abort', onAbort);
      this.#watchers.delete(w);
    }
  }

  /** Give `change` to every watcher of its key. */
  push(change: CloneChange): void {
    for (const w of this.#watchers) {
      if (w.failed !== undefined || !inSubtree(change.key, w.prefix)) continue;
      if (w.queue.length >= this.#maxBacklog) {
        w.failed = new WatchOverflowError(w.queue.length);
        w.queue.length = 0;
        this.#overflows += 1;
        this.#log.warn({ prefix: w.prefix, backlog: this.#maxBacklog }, 'watcher too slow, ended');
      } else {
        w.queue.push(change);
      }
      w.wake?.();
    }
  }

  /** The replica went from `before` to `after` by a snapshot at `sequence`: push the differences. */
  replaced(before: ReadonlyMap<string, KvMsg>, after: ReadonlyMap<string, KvMsg>, sequence: bigint): void {
    if (!this.watched) return;
    for (const [key, old] of before) {
      const now = after.get(key);
      if (now === undefined) this.push({ key, value: undefined, sequence });
      else if (!old.body.equals(now.body)) this.push({ key, value: now.body, sequence });
    }
    for (const [key, e] of after) if (!before.has(key)) this.push({ key, value: e.body, sequence });
  }

  /** Wake every watcher (the client closes: each ends quietly). */
  wakeAll(): void {
    for (const w of this.#watchers) w.wake?.();
  }
}
