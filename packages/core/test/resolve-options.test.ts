import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../src/errors.js';
import { oneOf, optional, resolveOptions, rules } from '../src/resolve-options.js';

interface ThingOptions {
  heartbeatIntervalMs?: number | undefined;
  liveness?: number | undefined;
  strategy?: 'priority' | 'round-robin' | undefined;
  name?: string | undefined;
}

const defaults = { heartbeatIntervalMs: 1000, liveness: 3, strategy: 'priority' } as const;
const checks = {
  heartbeatIntervalMs: rules.positive,
  liveness: rules.positiveInteger,
  strategy: oneOf('priority', 'round-robin'),
  name: rules.nonEmptyString,
};

describe('resolveOptions', () => {
  it('fills absent and undefined options from the defaults, keeps given ones', () => {
    const resolved = resolveOptions<ThingOptions, typeof defaults>(
      'Thing',
      { heartbeatIntervalMs: undefined, liveness: 5 },
      defaults,
      checks,
    );
    expect(resolved).toEqual({ heartbeatIntervalMs: 1000, liveness: 5, strategy: 'priority' });
    const interval: number = resolved.heartbeatIntervalMs;
    const name: string | undefined = resolved.name;
    expect([interval, name]).toEqual([1000, undefined]);
  });

  it('takes no options at all', () => {
    expect(resolveOptions('Thing', undefined as ThingOptions | undefined, defaults, checks)).toEqual(defaults);
  });

  it.each([
    [{ heartbeatIntervalMs: 0 }, 'Thing: heartbeatIntervalMs must be a finite number > 0, got 0'],
    [{ heartbeatIntervalMs: Number.NaN }, 'Thing: heartbeatIntervalMs must be a finite number > 0, got NaN'],
    [{ liveness: 2.5 }, 'Thing: liveness must be a whole number > 0, got 2.5'],
    [{ strategy: 'random' as 'priority' }, 'Thing: strategy must be one of "priority", "round-robin", got "random"'],
    [{ name: '' }, 'Thing: name must be a non-empty string, got ""'],
  ])('refuses %j with one message style', (options, message) => {
    expect(() => resolveOptions<ThingOptions, typeof defaults>('Thing', options, defaults, checks)).toThrow(
      new InvalidArgumentError(message),
    );
  });

  it('checks an option without a default only when it is given', () => {
    expect(() => resolveOptions<ThingOptions, typeof defaults>('Thing', {}, defaults, checks)).not.toThrow();
    expect(optional(rules.positive).test(undefined)).toBe(true);
    expect(optional(rules.positive).test(-1)).toBe(false);
  });

  it('has rules that accept and refuse what they say', () => {
    expect(rules.positiveOrInfinity.test(Number.POSITIVE_INFINITY)).toBe(true);
    expect(rules.positive.test(Number.POSITIVE_INFINITY)).toBe(false);
    expect(rules.nonNegative.test(0)).toBe(true);
    expect(rules.nonNegativeInteger.test(-1)).toBe(false);
    expect(rules.nonNegativeIntegerOrInfinity.test(Number.POSITIVE_INFINITY)).toBe(true);
    expect(rules.fraction.test(1.01)).toBe(false);
    expect(rules.boolean.test(0)).toBe(false);
    expect(rules.function.test(() => 1)).toBe(true);
    expect(rules.nonEmptyArray.test([])).toBe(false);
  });
});
