/**
 * Flag parsing helpers for commander: typed parsers that reject bad values with a one-line
 * message, and a program setup that turns every usage error into exit code 2.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { LOG_LEVELS } from './logging.js';

/** Exit code for bad flags or arguments (usage errors). */
export const EXIT_USAGE = 2;
/** Exit code for runtime failures (the broker does not answer, ...). */
export const EXIT_FAILURE = 1;

/** Parse a whole number within `[min, max]`. */
export function intFlag(min = 0, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value) => {
    if (!/^-?\d+$/.test(value.trim())) throw new InvalidArgumentError(`expected a whole number, got '${value}'`);
    const n = Number(value);
    if (n < min || n > max) throw new InvalidArgumentError(`expected a number from ${min} to ${max}, got ${n}`);
    return n;
  };
}

/** Accept a zeromq endpoint (`tcp://host:port`, `ipc://path`, `inproc://name`). */
export function endpointFlag(value: string): string {
  if (!/^(tcp:\/\/[^\s:]+:(\d+|\*)|ipc:\/\/\S+|inproc:\/\/\S+)$/.test(value)) {
    throw new InvalidArgumentError(`expected an endpoint like tcp://127.0.0.1:5555 or ipc:///tmp/x, got '${value}'`);
  }
  return value;
}

/** For repeatable flags: collect every value, dropping the default once the user gives one. */
export function collect<T>(parse: (value: string) => T): (value: string, previous: T[] | undefined) => T[] {
  return (value, previous) => [...(previous ?? []), parse(value)];
}

/** `--log-level` with the pino levels as choices. */
export function logLevelOption(defaultLevel = 'info'): Option {
  return new Option('--log-level <level>', 'log level').choices(LOG_LEVELS).default(defaultLevel);
}

/** `--pretty`: human-readable logs instead of JSON lines. */
export function prettyOption(): Option {
  return new Option('--pretty', 'human-readable logs instead of JSON lines').default(false);
}

/**
 * A commander program whose usage errors print one line (`name: error: ...`) to stderr and exit
 * with code 2, and whose `--help` shows defaults.
 */
export function createProgram(name: string, description: string, version = '0.1.0'): Command {
  const program = new Command(name);
  configureCommand(program.description(description).version(version));
  return program;
}

/** Apply the exit-code-2 behaviour to a (sub)command. Call it for every subcommand you add. */
export function configureCommand(command: Command): Command {
  return command
    .showHelpAfterError(false)
    .configureOutput({
      outputError: (message, write) => write(`${command.name()}: ${message.replace(/^error: /, 'error: ').trim()}\n`),
    })
    .exitOverride((err) => {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') {
        process.exit(0);
      }
      process.exit(EXIT_USAGE);
    });
}
