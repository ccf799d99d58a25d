/**
 * Flag parsing helpers for commander: typed parsers that reject bad values with a one-line
 * message, and a program setup that turns every usage error into exit code 2.
 */
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { InvalidStateError } from '@zpatterns/core';
import { Command, Help, InvalidArgumentError, Option } from 'commander';
import { bindEndpointFlag } from './endpoints.js';
import { LOG_LEVELS } from './logging.js';
import { commandPath, EXIT_USAGE, usageLine, usageMessage } from './usage.js';

/** Parse a whole number within `[min, max]`. */
export function intFlag(min = 0, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value) => {
    if (!/^-?\d+$/.test(value.trim())) throw new InvalidArgumentError(`expected a whole number, got '${value}'`);
    const n = Number(value);
    if (n < min || n > max) throw new InvalidArgumentError(`${n} is out of range (${min}-${max})`);
    return n;
  };
}

/**
 * A zeromq endpoint where `*` is allowed (`bindEndpointFlag`). Prefer `bindEndpointFlag` or
 * `connectEndpointFlag`, which say which rules apply.
 */
export const endpointFlag: (value: string) => string = bindEndpointFlag;

/**
 * A daemon's default data directory, absolute whatever directory the daemon is started in:
 * `$STATE_DIRECTORY` when a systemd unit sets `StateDirectory=` (its first entry), else
 * `$XDG_STATE_HOME/zpatterns/<name>`, else `~/.local/state/zpatterns/<name>`.
 */
export function defaultDataDir(name: string, env: NodeJS.ProcessEnv = process.env): string {
  const systemd = env['STATE_DIRECTORY']?.split(':')[0];
  if (systemd !== undefined && isAbsolute(systemd)) return systemd;
  const xdg = env['XDG_STATE_HOME'];
  const base = xdg !== undefined && isAbsolute(xdg) ? xdg : join(homedir(), '.local', 'state');
  return join(base, 'zpatterns', name);
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
 * A commander program whose usage errors print one line (`name: error: --flag: ...`) to stderr
 * and exit with code 2, and whose `--help` is wrapped and shows defaults.
 */
export function createProgram(name: string, description: string, version = '0.1.0'): Command {
  const program = new Command(name);
  configureCommand(program.description(description).version(version));
  return program;
}

/** The widest flag column of `--help`; a longer flag gets a line of its own. */
const HELP_TERM_WIDTH = 30;

/**
 * `--help` that fits 80 columns: descriptions wrap beside the flags, the flag column is at most
 * `HELP_TERM_WIDTH` wide, and a longer flag stands on its own line above its description.
 */
const HELP_LAYOUT: Partial<Help> = {
  minWidthToWrap: 24,
  padWidth(this: Help, cmd: Command, helper: Help): number {
    return Math.min(Help.prototype.padWidth.call(this, cmd, helper), HELP_TERM_WIDTH);
  },
  formatItem(this: Help, term: string, termWidth: number, description: string, helper: Help): string {
    if (description === '' || helper.displayWidth(term) <= termWidth) {
      return Help.prototype.formatItem.call(this, term, termWidth, description, helper);
    }
    return `  ${term}\n${Help.prototype.formatItem.call(this, '', termWidth, description, helper)}`;
  },
};

/**
 * Apply the exit-code-2 behaviour to a (sub)command: one usage-error line (see `usage.ts`) named
 * by the command's full path (`zpat call: error: ...`), and help whose descriptions wrap even
 * beside long flag names. Call it for every subcommand you add.
 */
export function configureCommand(command: Command): Command {
  return command
    .showHelpAfterError(false)
    .configureHelp(HELP_LAYOUT)
    .configureOutput({
      outputError: (message, write) => write(`${usageLine(commandPath(command), usageMessage(message))}\n`),
    })
    .exitOverride((err) => {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') {
        process.exit(0);
      }
      process.exit(EXIT_USAGE);
    });
}

/**
 * An old flag name kept for one release: it sets `replacement`, is hidden from `--help`, and its
 * use is reported as deprecated.
 */
export interface FlagAlias {
  /** The old flag as commander spells it: `'--bstar-local <endpoint>'`, or `'--primary'`. */
  flags: string;
  /** The long flag it stands for now: `'--state-bind'`. */
  replacement: string;
  /** For a valueless old flag that stood for a value of the new one: `--primary` is `--ha primary`. */
  value?: string;
}

/** One use of a deprecated flag. */
export interface DeprecatedFlagUse {
  /** The deprecated flag as given, e.g. `--timeout`. */
  flag: string;
  /** The flag to use instead. */
  replacement: string;
}

const deprecatedUses: DeprecatedFlagUse[] = [];

/** How a deprecated flag's use reads, for logs and stderr. */
export function deprecationMessage(use: DeprecatedFlagUse): string {
  return `${use.flag} is deprecated and goes in the next release; use ${use.replacement}`;
}

/**
 * Add hidden aliases (`Option.hideHelp()`) for renamed flags. An alias parses its value with the
 * replacement's parser and choices, and sets the replacement as if it had been given on the
 * command line (so it beats the environment too). Each use is recorded for `logDeprecations`, or
 * passed to `report` (the `zpat` CLI writes it to stderr).
 */
export function addFlagAliases(
  command: Command,
  aliases: readonly FlagAlias[],
  report: (use: DeprecatedFlagUse) => void = (use) => deprecatedUses.push(use),
): Command {
  for (const alias of aliases) {
    const target = command.options.find((option) => option.long === alias.replacement);
    if (target === undefined)
      throw new InvalidStateError(`alias ${alias.flags}: ${command.name()} has no ${alias.replacement}`);
    const option = new Option(alias.flags, `deprecated: use ${alias.replacement}`).hideHelp();
    command.addOption(option);
    const key = target.attributeName();
    const oldFlag = option.long ?? alias.flags;
    command.on(`option:${option.name()}`, (raw: string | undefined) => {
      const replacement = alias.value === undefined ? alias.replacement : `${alias.replacement} ${alias.value}`;
      report({ flag: oldFlag, replacement });
      const fromCli = command.getOptionValueSource(key) === 'cli';
      const previous: unknown = fromCli ? command.getOptionValue(key) : undefined;
      let value: unknown;
      if (alias.value !== undefined) {
        if (fromCli && previous !== alias.value) {
          command.error(`error: ${oldFlag} (${replacement}) conflicts with ${alias.replacement} ${String(previous)}`, {
            exitCode: EXIT_USAGE,
            code: 'commander.conflictingOption',
          });
        }
        value = alias.value;
      } else {
        const text = raw ?? '';
        if (target.argChoices !== undefined && !target.argChoices.includes(text)) {
          command.error(
            `error: option '${alias.flags}' argument '${text}' is invalid. Allowed choices are ${target.argChoices.join(', ')}.`,
            { exitCode: EXIT_USAGE, code: 'commander.invalidArgument' },
          );
        }
        try {
          value = target.parseArg === undefined ? text : target.parseArg(text, previous);
        } catch (err) {
          if (!(err instanceof InvalidArgumentError)) throw err;
          command.error(`error: option '${alias.flags}' argument '${text}' is invalid. ${err.message}`, {
            exitCode: EXIT_USAGE,
            code: 'commander.invalidArgument',
          });
        }
      }
      command.setOptionValueWithSource(key, value, 'cli');
    });
  }
  return command;
}

/** Log one warning per deprecated flag used so far (daemons call this once their logger exists). */
export function logDeprecations(logger: { warn(fields: object, message: string): void }): void {
  for (const use of deprecatedUses.splice(0)) logger.warn({ ...use }, deprecationMessage(use));
}

/** `--some-flag` read from `PREFIX_SOME_FLAG`. */
export function envName(prefix: string, long: string): string {
  return `${prefix}_${long.replace(/^--/, '').replaceAll('-', '_').toUpperCase()}`;
}

const FALSE_WORDS = /^(?:|0|false|no|off)$/i;
/** Flags only the command line sets. */
const COMMAND_LINE_ONLY = new Set(['--version', '--help', '--force']);

/**
 * Make every visible flag of `command` (and, with `recursive`, of its subcommands) readable from
 * the environment: `--heartbeat-ms` from `${prefix}_HEARTBEAT_MS` (commander's `Option.env()`,
 * so `--help` names the variable). A flag on the command line beats the environment, which beats
 * the default. A value from the environment goes through the flag's own parser and choices, so a
 * bad one is a usage error (exit 2) like a bad flag. A flag without a value is set by `1`, `true`,
 * `yes` or `on`, and left alone by `0`, `false`, `no`, `off` or an empty value; a repeatable flag
 * takes one value. `--force` is never read from the environment: a destructive override must be
 * typed where it is meant. Call it after the last option is added, before parsing.
 */
export function envOptions(command: Command, prefix: string, recursive = false): Command {
  for (const option of command.options) {
    if (option.hidden || option.long === undefined || option.envVar !== undefined) continue;
    if (COMMAND_LINE_ONLY.has(option.long)) continue;
    const name = envName(prefix, option.long);
    // commander listens for the variable only when `.env()` came before `addOption`; so here the
    // listener is ours, doing what commander's would.
    option.env(name);
    const key = option.attributeName();
    command.on(`optionEnv:${option.name()}`, (raw: string | undefined) => {
      const text = process.env[name] ?? '';
      let value: unknown;
      if (raw === undefined) {
        if (FALSE_WORDS.test(text)) return;
        value = !option.negate;
      } else {
        try {
          value = option.parseArg === undefined ? raw : option.parseArg(raw, undefined);
        } catch (err) {
          if (!(err instanceof InvalidArgumentError)) throw err;
          command.error(`error: ${name} (${option.long}): ${err.message}`, {
            exitCode: EXIT_USAGE,
            code: 'commander.invalidArgument',
          });
        }
      }
      command.setOptionValueWithSource(key, value, 'env');
    });
  }
  if (recursive) for (const sub of command.commands) envOptions(sub, prefix, true);
  return command;
}

/** Write one `name: warning: ...` line on stderr per deprecated flag used so far (for CLIs). */
export function printDeprecations(name: string): void {
  for (const use of deprecatedUses.splice(0)) process.stderr.write(`${name}: warning: ${deprecationMessage(use)}\n`);
}
