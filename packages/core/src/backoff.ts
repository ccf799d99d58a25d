/**
 * Retry policies as pure functions: `attempt` (1 for the first retry) in, a delay in milliseconds
 * out, or `null` to give up. Components take a policy, never a fixed interval.
 */
import { invalidOption, resolveOptions, rules } from './resolve-options.js';

/** Delay before retry number `attempt` (1-based), or `null` to stop retrying. */
export type RetryDelay = (attempt: number) => number | null;

/** Options of `exponentialBackoff()`. Delays are in milliseconds. */
export interface ExponentialBackoffOptions {
  /** Delay before the first retry. @default 1000 */
  initialMs?: number | undefined;
  /** Upper bound of any delay. @default 32000 */
  maxMs?: number | undefined;
  /** Growth per attempt. @default 2 */
  factor?: number | undefined;
  /**
   * Fraction of each delay that is randomised, 0..1: the delay is drawn uniformly from
   * `[d * (1 - jitter), d]`. 0 gives the book's exact doubling. @default 0
   */
  jitter?: number | undefined;
  /** Give up (return `null`) after this many retries. @default Infinity */
  maxAttempts?: number | undefined;
  /** Source of randomness in [0, 1), injectable for tests. @default Math.random */
  random?: (() => number) | undefined;
}

/**
 * The defaults of `exponentialBackoff()`: 1 s doubling to 32 s, without jitter (the book's reconnect policy).
 */
export const exponentialBackoffDefaults: {
  readonly [K in keyof ExponentialBackoffOptions]-?: Exclude<ExponentialBackoffOptions[K], undefined>;
} = {
  initialMs: 1000,
  maxMs: 32_000,
  factor: 2,
  jitter: 0,
  maxAttempts: Number.POSITIVE_INFINITY,
  random: Math.random,
};

/**
 * Exponential backoff with a cap and optional jitter. With the defaults this is the Paranoid
 * Pirate worker's reconnect schedule: 1 s, 2 s, 4 s, ... 32 s, then 32 s for ever.
 */
export function exponentialBackoff(options: ExponentialBackoffOptions = {}): RetryDelay {
  const o = resolveOptions('exponentialBackoff', options, exponentialBackoffDefaults, {
    initialMs: rules.nonNegative,
    factor: { must: 'a number >= 1', test: (v) => typeof v === 'number' && v >= 1 },
    jitter: rules.fraction,
    maxAttempts: rules.nonNegativeIntegerOrInfinity,
    random: rules.function,
  });
  if (!(o.maxMs >= o.initialMs))
    throw invalidOption('exponentialBackoff', 'maxMs', `>= initialMs (${o.initialMs})`, o.maxMs);
  return (attempt) => {
    if (!Number.isInteger(attempt) || attempt < 1 || attempt > o.maxAttempts) return null;
    const base = Math.min(o.maxMs, o.initialMs * o.factor ** (attempt - 1));
    return o.jitter === 0 ? base : base * (1 - o.jitter * o.random());
  };
}

/** The same delay every time, `maxAttempts` times (Infinity by default). */
export function constantBackoff(delayMs: number, maxAttempts = Number.POSITIVE_INFINITY): RetryDelay {
  return (attempt) => (attempt >= 1 && attempt <= maxAttempts ? delayMs : null);
}

/**
 * The delay before retry `attempt` for a caller that never gives up: the policy's delay, else (the
 * policy has given up) the delay of the attempt before, else `fallbackMs`. A policy that stops
 * after n retries thus keeps retrying at its n-th delay.
 */
export function persistentRetryDelay(policy: RetryDelay, attempt: number, fallbackMs: number): number {
  return policy(attempt) ?? policy(attempt - 1) ?? fallbackMs;
}
