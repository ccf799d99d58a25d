import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { commandPath, usageLine, usageMessage } from '../src/usage.js';

describe('usage-error line', () => {
  it.each([
    [
      "error: option '--bind <endpoint>' argument 'tcp://127.0.0.1:99999' is invalid. port 99999 is out of range (1-65535)",
      '--bind: port 99999 is out of range (1-65535)',
    ],
    [
      "error: option '--ha <role>' argument 'third' is invalid. Allowed choices are primary, backup.",
      "--ha: 'third' is not one of primary, backup",
    ],
    [
      "error: option '-b, --broker <endpoint>' argument 'x' is invalid. expected an endpoint",
      '-b: expected an endpoint',
    ],
    [
      "error: command-argument value 'x' is invalid for argument 'count'. expected a whole number, got 'x'",
      "<count>: expected a whole number, got 'x'",
    ],
    ["error: required option '--ha <role>' not specified", '--ha is required'],
    ["error: unknown option '--bnd'\n(Did you mean --bind?)", "unknown option '--bnd' (Did you mean --bind?)"],
    ['error: --ha needs --state-bind and --state-connect', '--ha needs --state-bind and --state-connect'],
  ])('%s', (commander, expected) => {
    expect(usageMessage(commander)).toBe(expected);
  });

  it('is one line: `<program>: error: <message>`', () => {
    expect(usageLine('mdbroker', '--bind: port 99999 is out of range (1-65535)')).toBe(
      'mdbroker: error: --bind: port 99999 is out of range (1-65535)',
    );
    expect(usageLine('zpat call', 'error: two\n  lines')).toBe('zpat call: error: two lines');
  });

  it('names a subcommand by its full path', () => {
    const zpat = new Command('zpat');
    const call = zpat.command('call');
    expect(commandPath(call)).toBe('zpat call');
    expect(commandPath(zpat)).toBe('zpat');
  });
});
