import { expect } from 'vitest';

/** What every long-lived zpatterns object has (see docs/api.md). */
export interface LongLived {
  close(): Promise<void>;
  closed(): Promise<unknown>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Checks the shared end of a long-lived object, which must not be closed yet: `closed()` stays
 * pending until `close()`; two calls to `close()` both resolve (to the very same promise unless
 * `samePromise` is false), so does a third after the end, and `closed()`, taken before and after,
 * resolves with `undefined`.
 */
export async function expectClosesOnce(target: LongLived, options: { samePromise?: boolean } = {}): Promise<void> {
  let ended = false;
  const closed = target.closed().then((value) => {
    ended = true;
    return value;
  });
  await new Promise((resolve) => setImmediate(resolve));
  expect(ended).toBe(false);
  const first = target.close();
  const second = target.close();
  if (options.samePromise ?? true) expect(second).toBe(first);
  await expect(first).resolves.toBeUndefined();
  await expect(second).resolves.toBeUndefined();
  await expect(target.close()).resolves.toBeUndefined();
  await expect(closed).resolves.toBeUndefined();
  await expect(target.closed()).resolves.toBeUndefined();
}
