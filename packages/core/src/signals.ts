/** Cancellation helpers: race a promise against a timeout and an `AbortSignal`. */
import { systemClock, type Clock } from './clock.js';
import { AbortError, TimeoutError, toError } from './errors.js';

/** Options of `deadline(promise, options)`. */
export interface DeadlineOptions {
  /** Reject with `TimeoutError` after this long; `undefined` or Infinity waits for ever. */
  timeoutMs?: number | undefined;
  /** Reject with `AbortError` (its `cause` the signal's reason) when this fires. */
  signal?: AbortSignal | undefined;
  /** Time source of the timeout. @default systemClock */
  clock?: Clock | undefined;
  /** Message of the `TimeoutError`; name the option that sets the limit. */
  timeoutMessage?: string | undefined;
}

/**
 * Settle with `promise`, or reject with `TimeoutError` after `timeoutMs`, or with `AbortError`
 * (cause: the signal's reason) when `signal` fires. Always cleans up its timer and listener.
 */
export function deadline<T>(promise: Promise<T>, options: DeadlineOptions): Promise<T> {
  const { timeoutMs, signal } = options;
  const clock = options.clock ?? systemClock;
  if (signal === undefined && (timeoutMs === undefined || timeoutMs === Number.POSITIVE_INFINITY)) return promise;
  return new Promise<T>((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(new AbortError('operation aborted', { cause: signal.reason }));
      return;
    }
    const onAbort = (): void => {
      cleanup();
      reject(new AbortError('operation aborted', { cause: signal?.reason }));
    };
    const timer =
      timeoutMs === undefined || timeoutMs === Number.POSITIVE_INFINITY
        ? undefined
        : clock.setTimeout(() => {
            cleanup();
            reject(new TimeoutError(options.timeoutMessage ?? `timed out after ${timeoutMs} ms`));
          }, timeoutMs);
    const cleanup = (): void => {
      if (timer !== undefined) clock.clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        cleanup();
        resolve(value);
      },
      (err: unknown) => {
        cleanup();
        reject(toError(err));
      },
    );
  });
}
