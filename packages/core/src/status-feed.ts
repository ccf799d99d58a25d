/**
 * Lifecycle as data: a component emits status events here, and every `status()` iterator gets its
 * own bounded copy of the events from its subscription on. Iterators that `break` are dropped;
 * after `end()` every iterator finishes, and a late subscriber gets one that is already finished.
 * Nothing is ever an 'error' event.
 */
import { AsyncQueue } from './async-queue.js';

/**
 * A fan-out of status events: each `subscribe()` gets its own bounded iterator of the events
 * emitted from then on. Iterators that `break` are dropped; `end()` finishes them all.
 */
export class StatusFeed<TStatus> {
  readonly #subscribers = new Set<AsyncQueue<TStatus>>();
  readonly #limit: number;
  #ended = false;

  /** @param limit events kept per iterator that is not being read; the oldest go first. @default 256 */
  constructor(limit = 256) {
    this.#limit = limit;
  }

  /** A new iterator of the events from now on. */
  subscribe(): AsyncIterableIterator<TStatus> {
    const queue = new AsyncQueue<TStatus>(this.#limit);
    if (this.#ended) queue.end();
    else this.#subscribers.add(queue);
    return queue;
  }

  /** Deliver `status` to every current subscriber (a slow one loses its oldest events past `limit`). */
  emit(status: TStatus): void {
    for (const queue of this.#subscribers) {
      if (!queue.push(status)) this.#subscribers.delete(queue);
    }
  }

  /** End every iterator (after the events already emitted). */
  end(): void {
    this.#ended = true;
    for (const queue of this.#subscribers) queue.end();
    this.#subscribers.clear();
  }
}
