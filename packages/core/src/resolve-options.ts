/**
 * Options in, one resolved object out: defaults fill what is absent or `undefined`, each value is
 * checked against its rule, and a bad one throws `InvalidArgumentError` with one message style:
 * `<what>: <option> must be <rule>, got <value>`.
 */
import { InvalidArgumentError } from './errors.js';

/** A check of one option: `test` says whether a value passes; `must` says what it must be, in words. */
export interface OptionRule {
  /** What a valid value is, completing "must be ...": `a number > 0`. */
  readonly must: string;
  /** Whether `value` is valid. */
  test(value: unknown): boolean;
}

const isNumber = (value: unknown): value is number => typeof value === 'number' && !Number.isNaN(value);

/** The common rules of `rules`. */
export interface CommonRules {
  /** A finite number above 0. */
  readonly positive: OptionRule;
  /** A number above 0, or Infinity for no bound. */
  readonly positiveOrInfinity: OptionRule;
  /** A finite number, 0 or more. */
  readonly nonNegative: OptionRule;
  /** A whole number above 0. */
  readonly positiveInteger: OptionRule;
  /** A whole number, 0 or more. */
  readonly nonNegativeInteger: OptionRule;
  /** A whole number, 0 or more, or Infinity. */
  readonly nonNegativeIntegerOrInfinity: OptionRule;
  /** A number from 0 to 1. */
  readonly fraction: OptionRule;
  /** `true` or `false`. */
  readonly boolean: OptionRule;
  /** A function. */
  readonly function: OptionRule;
  /** A string that is not empty. */
  readonly nonEmptyString: OptionRule;
  /** An array with at least one element. */
  readonly nonEmptyArray: OptionRule;
}

/** The common rules; build others with `{ must, test }`. */
export const rules: CommonRules = {
  /** A finite number above 0. */
  positive: { must: 'a finite number > 0', test: (v) => isNumber(v) && Number.isFinite(v) && v > 0 },
  /** A number above 0, or Infinity for no bound. */
  positiveOrInfinity: { must: 'a number > 0 (or Infinity)', test: (v) => isNumber(v) && v > 0 },
  /** A finite number, 0 or more. */
  nonNegative: { must: 'a finite number >= 0', test: (v) => isNumber(v) && Number.isFinite(v) && v >= 0 },
  /** A whole number above 0. */
  positiveInteger: { must: 'a whole number > 0', test: (v) => Number.isSafeInteger(v) && (v as number) > 0 },
  /** A whole number, 0 or more. */
  nonNegativeInteger: { must: 'a whole number >= 0', test: (v) => Number.isSafeInteger(v) && (v as number) >= 0 },
  /** A whole number, 0 or more, or Infinity. */
  nonNegativeIntegerOrInfinity: {
    must: 'a whole number >= 0 (or Infinity)',
    test: (v) => v === Number.POSITIVE_INFINITY || (Number.isSafeInteger(v) && (v as number) >= 0),
  },
  /** A number from 0 to 1. */
  fraction: { must: 'a number from 0 to 1', test: (v) => isNumber(v) && v >= 0 && v <= 1 },
  /** `true` or `false`. */
  boolean: { must: 'true or false', test: (v) => typeof v === 'boolean' },
  /** A function. */
  function: { must: 'a function', test: (v) => typeof v === 'function' },
  /** A string that is not empty. */
  nonEmptyString: { must: 'a non-empty string', test: (v) => typeof v === 'string' && v.length > 0 },
  /** An array with at least one element. */
  nonEmptyArray: { must: 'a non-empty array', test: (v) => Array.isArray(v) && v.length > 0 },
};

/** A rule that accepts one of `values`. */
export function oneOf<T extends string | number | boolean>(...values: readonly T[]): OptionRule {
  return {
    must: `one of ${values.map((v) => JSON.stringify(v)).join(', ')}`,
    test: (v) => values.includes(v as T),
  };
}

/** A rule that also accepts `undefined` (for options with no default). */
export function optional(rule: OptionRule): OptionRule {
  return { must: `${rule.must} or undefined`, test: (v) => v === undefined || rule.test(v) };
}

/** The rules of an options type: one per option name, all optional. */
export type OptionRules<TOptions> = { readonly [K in keyof TOptions]?: OptionRule };

/**
 * Options resolved against defaults: an option with a default is present and never `undefined`;
 * the others keep their own type.
 */
export type ResolvedOptions<TOptions, TDefaults> = {
  -readonly [K in keyof TOptions]-?: K extends keyof TDefaults
    ? Exclude<TOptions[K], undefined>
    : TOptions[K] | undefined;
};

/** Describe a value for an error message: strings quoted, functions and objects by kind. */
function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'bigint') return `${value}n`;
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (value !== null && typeof value === 'object') return 'an object';
  return String(value);
}

/** The message of a bad option, in the one style: `<what>: <option> must be <rule>, got <value>`. */
export function invalidOption(what: string, option: string, must: string, value: unknown): InvalidArgumentError {
  return new InvalidArgumentError(`${what}: ${option} must be ${must}, got ${show(value)}`);
}

/**
 * `{ ...defaults, ...options }` where an option passed as `undefined` keeps its default, then every
 * value that has a rule is checked (defaults included).
 *
 * @param what - who takes the options, first word of the error message (`MajordomoClient`)
 * @param options - what the caller passed (may be `undefined`)
 * @param defaults - the documented defaults
 * @param optionRules - a rule per option to check
 * @throws InvalidArgumentError `<what>: <option> must be <rule>, got <value>`
 */
export function resolveOptions<TOptions extends object, TDefaults extends { readonly [K in keyof TOptions]?: unknown }>(
  what: string,
  options: TOptions | undefined,
  defaults: TDefaults,
  optionRules: OptionRules<TOptions> = {},
): ResolvedOptions<TOptions, TDefaults> {
  const resolved: Record<string, unknown> = { ...defaults };
  if (options !== undefined) {
    for (const [key, value] of Object.entries(options)) if (value !== undefined) resolved[key] = value;
  }
  for (const [key, rule] of Object.entries<OptionRule | undefined>(optionRules)) {
    if (rule === undefined) continue;
    const value = resolved[key];
    if (value === undefined && !(key in defaults)) continue; // no default and not given: the type says optional
    if (!rule.test(value)) throw invalidOption(what, key, rule.must, value);
  }
  return resolved as ResolvedOptions<TOptions, TDefaults>;
}
