/**
 * Time, injected. Every component that owns a timer takes a `Clock`, so heartbeat, expiry and
 * backoff rules can be tested with `ManualClock` instead of real waits.
 */

import { performance } from 'node:perf_hooks';
import { AbortError } from './errors.js';

/** Opaque timer handle returned by `Clock.setTimeout`. */
export type TimerHandle = { readonly __timer: unique symbol } | object;

/** The three operations on time that the library needs. */
export interface Clock {
  /** Milliseconds, monotonic within one clock. */
  now(): number;
  /** Call `callback` once after `delayMs` milliseconds; returns a handle for `clearTimeout`. */
  setTimeout(callback: () => void, delayMs: number): TimerHandle;
  /** Cancel a timer from this clock's `setTimeout`; a no-op if it has fired already. */
  clearTimeout(handle: TimerHandle): void;
}

/**
 * The real clock: `performance.now()` and Node's timers. `performance` is imported: the global of
 * that name is an accessor on `globalThis`, a getter call on every read (about 50 ns a clock read).
 */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (callback, delayMs) => setTimeout(callback, delayMs),
  clearTimeout: (handle) => {
    clearTimeout(handle as NodeJS.Timeout);
  },
};

interface ManualTimer {
  readonly id: number;
  readonly at: number;
  readonly callback: () => void;
}

/**
 * A clock that moves only when told to. `advance(ms)` fires due timers in deadline order (ties in
 * creation order) and sets `now()` to each timer's deadline as it fires.
 */
export class ManualClock implements Clock {
  #now: number;
  #nextId = 1;
  readonly #timers = new Map<number, ManualTimer>();

  constructor(startMs = 0) {
    this.#now = startMs;
  }

  /** The clock's time: where the last `advance()` left it. */
  now(): number {
    return this.#now;
  }

  /**
   * Schedule `callback` at `now() + delayMs` (negative delays count as 0). It runs only when
   * `advance()` or `advanceTo()` moves the clock past that time.
   */
  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    const timer: ManualTimer = { id: this.#nextId++, at: this.#now + Math.max(0, delayMs), callback };
    this.#timers.set(timer.id, timer);
    return timer;
  }

  /** Cancel a timer from `setTimeout`; a timer that has fired or was cleared is ignored. */
  clearTimeout(handle: TimerHandle): void {
    this.#timers.delete((handle as ManualTimer).id);
  }

  /** Number of timers not yet fired or cleared. */
  get pending(): number {
    return this.#timers.size;
  }

  /** Move time forward by `ms`, firing every timer that falls due on the way. */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      let next: ManualTimer | undefined;
      for (const timer of this.#timers.values()) {
        if (timer.at <= target && (next === undefined || timer.at < next.at)) next = timer;
      }
      if (next === undefined) break;
      this.#timers.delete(next.id);
      this.#now = next.at;
      next.callback();
    }
    this.#now = target;
  }
}

/** Resolve after `ms` on `clock`, or reject with `AbortError` (cause: the signal's reason) as soon as `signal` fires. */
export function sleep(ms: number, options: { clock?: Clock; signal?: AbortSignal | undefined } = {}): Promise<void> {
  const clock = options.clock ?? systemClock;
  const { signal } = options;
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(new AbortError('sleep aborted', { cause: signal.reason }));
      return;
    }
    const onAbort = (): void => {
      clock.clearTimeout(handle);
      reject(new AbortError('sleep aborted', { cause: signal?.reason }));
    };
    const handle = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
