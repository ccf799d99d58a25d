import { invalidOption, type OptionRule } from '@zpatterns/core';

/**
 * A required option, checked against `rule` in core's one message style (`resolveOptions` checks
 * only the options that have a default or were given).
 */
export function required<T>(what: string, option: string, value: T | undefined, rule: OptionRule): T {
  if (value === undefined || !rule.test(value)) throw invalidOption(what, option, rule.must, value);
  return value;
}

/** `maxMessageBytes`: whole bytes, at least 1, or -1 for no limit (libzmq's default). */
export const maxMessageBytesRule: OptionRule = {
  must: 'a whole number of bytes >= 1, or -1 for no limit',
  test: (v) => Number.isSafeInteger(v) && ((v as number) >= 1 || v === -1),
};
