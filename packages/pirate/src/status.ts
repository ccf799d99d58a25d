/**
 * Lifecycle as data: a component pushes status events here, and every `status()` iterator gets
 * its own bounded copy. Iterators that `break` are dropped; nothing is an 'error' event.
 */
import { AsyncQueue } from '@zpatterns/core';

export class StatusFeed<TStatus> {
  readonly #subscribers = new Set<AsyncQueue<TStatus>>();
  readonly #limit: number;

  constructor(limit = 256) {
    this.#limit = limit;
  }

  /** A new iterator of the events from now on. */
  subscribe(): AsyncIterableIterator<TStatus> {
    const queue = new AsyncQueue<TStatus>(this.#limit);
    this.#subscribers.add(queue);
    return queue;
  }

  emit(status: TStatus): void {
    for (const queue of this.#subscribers) {
      if (queue.ended) this.#subscribers.delete(queue);
      else queue.push(status);
    }
  }

  /** End every iterator (after the last event). */
  end(): void {
    for (const queue of this.#subscribers) queue.end();
    this.#subscribers.clear();
  }
}
