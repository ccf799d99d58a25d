/**
 * The usage-error line: what every daemon and command prints for a bad flag, argument or
 * combination, before anything starts. One line on stderr, exit code 2:
 *
 *   mdbroker: error: --bind: port 99999 is out of range (1-65535)
 *   zpat call: error: unknown option '--brokre' (Did you mean --broker?)
 *
 * The program part is the command's full path (`zpat call`, not `call`). The message names the
 * flag first, then what is wrong with its value; commander's own wording for a bad value
 * (`option '--bind <endpoint>' argument 'x' is invalid. ...`) is rewritten to that shape.
 */
import type { Command } from 'commander';

/** Exit code for bad flags or arguments (usage errors). */
export const EXIT_USAGE = 2;
/** Exit code for runtime failures, and for a daemon that could not start. */
export const EXIT_FAILURE = 1;

/** Text on one line: line breaks and runs of blanks become one space. */
export function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}

/** The usage-error line, without its final newline: `<program>: error: <message>`. */
export function usageLine(program: string, message: string): string {
  return `${program}: error: ${oneLine(message.replace(/^error: /, ''))}`;
}

/** `zpat call` for the `call` subcommand of `zpat`: the names from the root down. */
export function commandPath(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c !== null; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/**
 * Rewrite commander's messages about a bad value to `<flag>: <what is wrong>`:
 *
 *   error: option '--bind <endpoint>' argument 'x' is invalid. expected an endpoint...
 *     --bind: expected an endpoint...
 *   error: option '--ha <role>' argument 'x' is invalid. Allowed choices are primary, backup.
 *     --ha: 'x' is not one of primary, backup
 *   error: command-argument value 'x' is invalid for argument 'count'. ...
 *     <count>: ...
 *   error: required option '--ha <role>' not specified
 *     --ha is required
 *
 * Anything else passes through without its `error: ` prefix.
 */
export function usageMessage(commanderMessage: string): string {
  const text = oneLine(commanderMessage).replace(/^error: /, '');
  const option = /^option '(-[^ ',]+)[^']*' (?:argument|value) '(.*)'(?: from env '[^']*')? is invalid\. (.*)$/s.exec(
    text,
  );
  const argument = /^command-argument value '(.*)' is invalid for argument '([^']*)'\. (.*)$/s.exec(text);
  const required = /^required option '(-[^ ',]+)[^']*' not specified$/.exec(text);
  if (option !== null) {
    const [, flag = '', value = '', why = ''] = option;
    return `${flag}: ${choices(value, why)}`;
  }
  if (argument !== null) {
    const [, value = '', name = '', why = ''] = argument;
    return `<${name}>: ${choices(value, why)}`;
  }
  if (required !== null) return `${required[1] ?? ''} is required`;
  return text;
}

function choices(value: string, why: string): string {
  const allowed = /^Allowed choices are (.*)\.$/.exec(why);
  return allowed === null ? why : `'${value}' is not one of ${allowed[1] ?? ''}`;
}

/** Print the usage-error line of `program` on stderr and exit with code 2. */
export function exitUsage(program: string, message: string): never {
  process.stderr.write(`${usageLine(program, message)}\n`);
  process.exit(EXIT_USAGE);
}
