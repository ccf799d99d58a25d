/**
 * The two ways of waiting for a `MajordomoPipeline` reply: one `recv()` (`RecvWait`: a timer only
 * for a finite timeout, a listener only for a signal) and the `replies()` loop (`ReplyIterator`,
 * an async generator written out). The pipeline hands a reply to the one waiting reader; a reader
 * that gives up (timeout, abort, `break`) takes itself off first, so a reply is never handed to a
 * reader that has already gone.
 *
 * `ReplyIterator` instead of an `async function*`: a generator awaits the value it yields and its
 * `recv()` promise was resolved with the reply, two generic `then` lookups on the reply and the
 * generator's own suspend and resume per reply; here each reply settles its `next()` promise once.
 */
import { AbortError, ClosedError, TimeoutError, toError, type Clock, type TimerHandle } from '@zpatterns/core';

/** What a waiting reader is given: the next reply, or why none will come. */
export interface ReplyReader<R> {
  deliver(reply: R): void;
  fail(err: Error): void;
}

/** What a reader needs of its pipeline. */
export interface ReaderPort<R> {
  /** Throws `NotStartedError` before `start()`, `ClosedError` after `close()`. */
  assertRunning(): void;
  /** A reply already buffered, if any. */
  shift(): R | undefined;
  /** Wait for the next reply; throws `InvalidStateError` while another reader waits. */
  wait(reader: ReplyReader<R>): void;
  /** Stop waiting (a no-op when `reader` is not the one waiting). */
  unwait(reader: ReplyReader<R>): void;
}

const RECV = 'MajordomoPipeline: recv';
export const recvAborted = (signal: AbortSignal): AbortError =>
  new AbortError(`${RECV} aborted`, { cause: signal.reason });

/** One `recv()` waiting: settles its promise once, with a reply, a timeout, an abort or a close. */
export class RecvWait<R> implements ReplyReader<R> {
  readonly promise: Promise<R>;
  #resolve!: (reply: R) => void;
  #reject!: (err: Error) => void;
  readonly #port: ReaderPort<R>;
  readonly #clock: Clock;
  readonly #signal: AbortSignal | undefined;
  #timer: TimerHandle | undefined;

  constructor(port: ReaderPort<R>, clock: Clock, timeoutMs: number, signal: AbortSignal | undefined) {
    this.#port = port;
    this.#clock = clock;
    this.#signal = signal;
    this.promise = new Promise<R>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    if (Number.isFinite(timeoutMs)) this.#timer = clock.setTimeout(() => this.#timedOut(timeoutMs), timeoutMs);
    signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  deliver(reply: R): void {
    this.#cleanup();
    this.#resolve(reply);
  }

  fail(err: Error): void {
    this.#cleanup();
    this.#reject(err);
  }

  #cleanup(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#signal?.removeEventListener('abort', this.#onAbort);
  }

  #timedOut(timeoutMs: number): void {
    this.#timer = undefined;
    this.#port.unwait(this);
    this.fail(new TimeoutError(`${RECV} timed out after ${timeoutMs} ms (timeoutMs)`, { attempts: 0 }));
  }

  readonly #onAbort = (): void => {
    this.#port.unwait(this);
    this.fail(recvAborted(this.#signal as AbortSignal));
  };
}

const DONE: IteratorReturnResult<void> = Object.freeze({ done: true, value: undefined });

/**
 * `pipeline.replies()`: every reply as it arrives. `break` (`return()`) ends it and leaves the
 * pipeline open; the signal makes the pending `next()` reject with `AbortError` (and ends the
 * loop); closing the pipeline ends it quietly. A `next()` called while one is pending waits its
 * turn, as with a generator.
 */
export class ReplyIterator<R> implements AsyncGenerator<R, void, undefined>, ReplyReader<R> {
  readonly #port: ReaderPort<R>;
  readonly #signal: AbortSignal | undefined;
  #done = false;
  /** The pending `next()`, while the pipeline holds this reader. */
  #resolve: ((result: IteratorResult<R, void>) => void) | undefined;
  #reject: ((err: Error) => void) | undefined;
  /** `next()` calls made while one was pending, in order. */
  readonly #later: { resolve: (r: IteratorResult<R, void>) => void; reject: (e: Error) => void }[] = [];

  constructor(port: ReaderPort<R>, signal: AbortSignal | undefined) {
    this.#port = port;
    this.#signal = signal;
    signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  next(): Promise<IteratorResult<R, void>> {
    if (this.#resolve === undefined) return this.#take();
    return new Promise((resolve, reject) => this.#later.push({ resolve, reject }));
  }

  #take(): Promise<IteratorResult<R, void>> {
    if (this.#done) return Promise.resolve(DONE);
    // Replies already buffered are handed over without waiting.
    const reply = this.#port.shift();
    if (reply !== undefined) return Promise.resolve({ value: reply, done: false });
    try {
      this.#port.assertRunning();
    } catch (err) {
      if (err instanceof ClosedError) return Promise.resolve(this.#finish());
      this.#finish();
      return Promise.reject(toError(err));
    }
    const signal = this.#signal;
    if (signal?.aborted === true) {
      this.#finish();
      return Promise.reject(recvAborted(signal));
    }
    const pending = new Promise<IteratorResult<R, void>>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    try {
      this.#port.wait(this);
    } catch (err) {
      this.#settled();
      this.#finish();
      return Promise.reject(toError(err));
    }
    return pending;
  }

  deliver(reply: R): void {
    const resolve = this.#resolve;
    this.#settled();
    resolve?.({ value: reply, done: false });
    if (this.#later.length > 0) this.#drain();
  }

  fail(err: Error): void {
    const resolve = this.#resolve;
    const reject = this.#reject;
    this.#settled();
    this.#finish();
    if (err instanceof ClosedError) resolve?.(DONE);
    else reject?.(err);
    if (this.#later.length > 0) this.#drain();
  }

  /** `break` out of the loop: stop waiting and end; the pipeline stays open. */
  return(): Promise<IteratorResult<R, void>> {
    const resolve = this.#resolve;
    this.#port.unwait(this);
    this.#settled();
    this.#finish();
    resolve?.(DONE);
    if (this.#later.length > 0) this.#drain();
    return Promise.resolve(DONE);
  }

  throw(err: unknown): Promise<IteratorResult<R, void>> {
    void this.return();
    return Promise.reject(toError(err));
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.return();
  }

  /** The `next()` calls that waited their turn, until one of them waits for the pipeline. */
  #drain(): void {
    while (this.#resolve === undefined) {
      const turn = this.#later.shift();
      if (turn === undefined) return;
      this.#take().then(turn.resolve, turn.reject);
    }
  }

  #settled(): void {
    this.#resolve = undefined;
    this.#reject = undefined;
  }

  #finish(): IteratorReturnResult<void> {
    if (!this.#done) {
      this.#done = true;
      this.#signal?.removeEventListener('abort', this.#onAbort);
    }
    return DONE;
  }

  readonly #onAbort = (): void => {
    if (this.#resolve === undefined) return; // the next next() sees the aborted signal
    this.#port.unwait(this);
    this.fail(recvAborted(this.#signal as AbortSignal));
  };
}
