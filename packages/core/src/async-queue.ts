/**
 * A push-to-pull bridge: producers `push()` values, one consumer reads them with `for await`.
 * Used for status streams and for replies of the pipelined clients. Tolerates `break` in the
 * consumer (the queue ends), and `end(err)` makes the consumer's loop throw.
 */
import { Deque } from './deque.js';
import { InvalidStateError } from './errors.js';

/**
 * A push-to-pull queue: producers `push()` values, one consumer reads them with `for await`.
 * A consumer that `break`s ends the queue; `end(err)` makes the consumer's loop throw `err`.
 * Only one `next()` may wait at a time (a second rejects with `InvalidStateError`).
 */
export class AsyncQueue<T> implements AsyncIterableIterator<T> {
  readonly #items = new Deque<T>();
  readonly #limit: number;
  #waiter: { resolve: (r: IteratorResult<T>) => void; reject: (err: Error) => void } | undefined;
  #ended = false;
  #error: Error | undefined;
  #dropped = 0;

  /** @param limit values kept while nobody reads; the oldest is dropped past it. @default Infinity */
  constructor(limit = Number.POSITIVE_INFINITY) {
    this.#limit = limit;
  }

  /** Whether `end()` has been called (buffered values may still be unread). */
  get ended(): boolean {
    return this.#ended;
  }

  /** Values buffered and not yet read. */
  get length(): number {
    return this.#items.length;
  }

  /** Values discarded because the buffer was full. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Deliver a value; returns false after `end()`. */
  push(value: T): boolean {
    if (this.#ended) return false;
    const waiter = this.#waiter;
    if (waiter !== undefined) {
      this.#waiter = undefined;
      waiter.resolve({ done: false, value });
      return true;
    }
    if (this.#items.length >= this.#limit) {
      this.#items.shift();
      this.#dropped++;
    }
    this.#items.push(value);
    return true;
  }

  /** No more values. Buffered ones are still delivered; then the loop ends, or throws `err`. */
  end(err?: Error): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = err;
    const waiter = this.#waiter;
    if (waiter !== undefined && this.#items.length === 0) {
      this.#waiter = undefined;
      if (err !== undefined) waiter.reject(err);
      else waiter.resolve({ done: true, value: undefined });
    }
  }

  /**
   * The next value, waiting for one if the queue is empty; `done` once the queue has ended and
   * drained. Rejects with the error given to `end(err)`.
   */
  next(): Promise<IteratorResult<T>> {
    if (this.#items.length > 0) return Promise.resolve({ done: false, value: this.#items.shift() as T });
    if (this.#ended) {
      if (this.#error !== undefined) {
        const err = this.#error;
        this.#error = undefined;
        return Promise.reject(err);
      }
      return Promise.resolve({ done: true, value: undefined });
    }
    if (this.#waiter !== undefined)
      return Promise.reject(new InvalidStateError('AsyncQueue: only one reader at a time'));
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
  }

  /** Stop reading: drop the values still queued and end the queue (what `break` in `for await` calls). */
  return(): Promise<IteratorResult<T>> {
    this.#items.clear();
    this.end();
    return Promise.resolve({ done: true, value: undefined });
  }

  /** The queue itself, so it can be read with `for await`. */
  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }
}
