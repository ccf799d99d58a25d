/**
 * The per-test cleanup list most tests need: resources and callbacks registered during a test are
 * closed after it, newest first, even when the test failed.
 *
 *   const { track, defer } = useDisposables();
 *   const queue = track(await ParanoidPirateQueue.start(...));   // queue.close() after the test
 *   defer(() => daemon.stop());                                  // any async callback
 */
import { afterEach } from 'vitest';

/** Something with an async close: `close()` or `[Symbol.asyncDispose]()`. */
export type Closable = { close(): unknown } | AsyncDisposable;

export interface Disposables {
  /** Close `resource` after the current test; returns it. */
  readonly track: <T extends Closable>(resource: T) => T;
  /** Run `fn` after the current test. */
  readonly defer: (fn: () => unknown) => void;
}

/**
 * Register an `afterEach` (in the calling file or `describe`) that runs everything tracked in the
 * test, in reverse order. Every callback runs; the first error is rethrown once all have run.
 */
export function useDisposables(): Disposables {
  const pending: (() => unknown)[] = [];
  afterEach(async () => {
    let first: unknown;
    let failed = false;
    for (let fn = pending.pop(); fn !== undefined; fn = pending.pop()) {
      try {
        await fn();
      } catch (err) {
        if (!failed) first = err;
        failed = true;
      }
    }
    if (failed) throw first;
  });
  return {
    track: (resource) => {
      pending.push(() => ('close' in resource ? resource.close() : resource[Symbol.asyncDispose]()));
      return resource;
    },
    defer: (fn) => {
      pending.push(fn);
    },
  };
}
