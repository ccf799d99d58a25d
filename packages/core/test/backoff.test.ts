import { describe, expect, it } from 'vitest';
import { constantBackoff, exponentialBackoff, persistentRetryDelay } from '../src/backoff.js';
import { InvalidArgumentError } from '../src/errors.js';
import { ManualClock, sleep } from '../src/clock.js';

describe('exponentialBackoff', () => {
  it('defaults to the Paranoid Pirate schedule: 1 s doubling to 32 s, then 32 s', () => {
    const delay = exponentialBackoff();
    expect([1, 2, 3, 4, 5, 6, 7, 50].map(delay)).toEqual([1000, 2000, 4000, 8000, 16000, 32000, 32000, 32000]);
  });

  it('returns null (give up) past maxAttempts and for invalid attempts', () => {
    const delay = exponentialBackoff({ initialMs: 10, maxMs: 100, maxAttempts: 3 });
    expect([1, 2, 3, 4].map(delay)).toEqual([10, 20, 40, null]);
    expect(delay(0)).toBeNull();
    expect(delay(1.5)).toBeNull();
  });

  it('jitter draws from [d x (1 - jitter), d] with the injected random source', () => {
    const lows = exponentialBackoff({ initialMs: 1000, jitter: 0.5, random: () => 0.999999 });
    const highs = exponentialBackoff({ initialMs: 1000, jitter: 0.5, random: () => 0 });
    expect(highs(1)).toBe(1000);
    expect(lows(1)).toBeGreaterThan(500);
    expect(lows(1)).toBeLessThan(501);
    expect(highs(3)).toBe(4000);
  });

  it('validates its options', () => {
    expect(() => exponentialBackoff({ initialMs: 10, maxMs: 5 })).toThrow(InvalidArgumentError);
    expect(() => exponentialBackoff({ jitter: 2 })).toThrow(InvalidArgumentError);
    expect(() => exponentialBackoff({ factor: 0.5 })).toThrow(InvalidArgumentError);
    expect(() => exponentialBackoff({ initialMs: -1 })).toThrow(/initialMs <= maxMs and factor >= 1/);
    expect(() => exponentialBackoff({ jitter: -0.1 })).toThrow(/jitter must be in \[0, 1\]/);
  });

  it('takes the edges of every range: initialMs 0, maxMs = initialMs, factor 1, jitter 1', () => {
    expect(exponentialBackoff({ initialMs: 0, maxMs: 0 })(3)).toBe(0);
    expect(exponentialBackoff({ initialMs: 50, maxMs: 50, factor: 1 })(5)).toBe(50);
    expect(exponentialBackoff({ initialMs: 100, maxMs: 100, jitter: 1, random: () => 0.25 })(1)).toBe(75);
  });

  it('without jitter, never draws from the random source', () => {
    const random = (): number => {
      throw new Error('drawn');
    };
    expect(exponentialBackoff({ initialMs: 100, random })(2)).toBe(200);
  });
});

describe('constantBackoff', () => {
  it('repeats the delay then gives up', () => {
    const delay = constantBackoff(250, 2);
    expect([1, 2, 3].map(delay)).toEqual([250, 250, null]);
  });
});

describe('ManualClock and sleep', () => {
  it('fires timers in deadline order and moves now() to each deadline', () => {
    const clock = new ManualClock();
    const seen: number[] = [];
    clock.setTimeout(() => seen.push(clock.now()), 30);
    const h = clock.setTimeout(() => seen.push(-1), 20);
    clock.setTimeout(() => seen.push(clock.now()), 10);
    clock.clearTimeout(h);
    clock.advance(100);
    expect(seen).toEqual([10, 30]);
    expect(clock.now()).toBe(100);
  });

  it('sleep resolves on the manual clock and rejects on abort', async () => {
    const clock = new ManualClock();
    const done = sleep(500, { clock });
    clock.advance(500);
    await expect(done).resolves.toBeUndefined();
    const controller = new AbortController();
    const aborted = sleep(500, { clock, signal: controller.signal });
    controller.abort(new Error('stop'));
    await expect(aborted).rejects.toMatchObject({ code: 'ERR_ABORTED', cause: new Error('stop') });
    expect(clock.pending).toBe(0);
  });
});

describe('persistentRetryDelay', () => {
  it("uses the policy's delay while it has one", () => {
    const delay = exponentialBackoff({ initialMs: 10, maxMs: 100, maxAttempts: 3 });
    expect([1, 2, 3].map((n) => persistentRetryDelay(delay, n, 999))).toEqual([10, 20, 40]);
  });

  it('keeps the delay of the attempt before once the policy gives up', () => {
    const delay = constantBackoff(250, 2);
    expect(persistentRetryDelay(delay, 3, 999)).toBe(250);
  });

  it('falls back when neither the attempt nor the one before has a delay', () => {
    expect(persistentRetryDelay(constantBackoff(250, 2), 4, 999)).toBe(999);
    expect(persistentRetryDelay(constantBackoff(250, 0), 1, 999)).toBe(999);
    expect(persistentRetryDelay(() => null, 5, 5000)).toBe(5000);
  });

  it('keeps a policy delay of 0 (0 is a delay, not a give-up)', () => {
    expect(persistentRetryDelay(() => 0, 1, 999)).toBe(0);
  });
});
