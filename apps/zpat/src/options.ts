/**
 * The flags every zpat client command shares, added in one order so that every `--help` reads
 * the same: the command's own flags first, then
 *
 *   --broker | --server       the peers: repeatable, or a comma list
 *   --timeout-ms --attempt-timeout-ms --retries
 *   --log-level --pretty
 *   --curve-server-key --curve-secret-key-file
 *
 * One set of defaults for every client command: 3 resends after the first attempt, 2500 ms per
 * attempt, no bound on the whole command beyond its attempts, client logs off (the command prints
 * its own one line on failure).
 */
import {
  clientSecurityOptions,
  configureCommand,
  EXIT_USAGE,
  intFlag,
  logLevelOption,
  peerListOption,
  prettyOption,
  type ClientSecurityFlags,
  type LogLevel,
} from '@zpatterns/app-kit';
import type { Command, CommanderError, Option } from 'commander';

/** Resends after the first attempt, for every client command. */
export const DEFAULT_RETRIES = 3;
/** Wait for one reply, for every client command. */
export const DEFAULT_ATTEMPT_TIMEOUT_MS = 2500;
/** The Majordomo broker of the port map. */
export const DEFAULT_BROKER = 'tcp://127.0.0.1:5555';

/** Flags of every one-shot client command. */
export interface ClientFlags extends ClientSecurityFlags {
  attemptTimeoutMs: number;
  timeoutMs: number | undefined;
  retries: number;
  logLevel: LogLevel;
  pretty: boolean;
}

/** A description that says the flag is required (commander's help does not). */
export function required(description: string): string {
  return `${description} (required)`;
}

/** Make `option` required, and say so at the end of its description. */
export function mandatory(option: Option): Option {
  option.description = required(option.description);
  return option.makeOptionMandatory();
}

/** `--broker`: the brokers, primary first; with two or more, an attempt that times out fails over. */
export function brokerOption(description = 'broker endpoint; name both of an HA pair, primary first'): Option {
  return peerListOption('--broker <endpoint>', description, { default: [DEFAULT_BROKER] });
}

/** The whole-command bound and the attempts, then logs; `timeoutMs` given a default where the command has one. */
export function budgetOptions(
  command: Command,
  descriptions: { attempt?: string; retries?: string; timeout?: string } = {},
): Command {
  return command
    .option(
      '--timeout-ms <ms>',
      descriptions.timeout ?? 'bound of the whole command, every attempt included (default: the attempts)',
      intFlag(1, 86_400_000),
    )
    .option(
      '--attempt-timeout-ms <ms>',
      descriptions.attempt ?? 'wait this long for each reply before resending',
      intFlag(1, 86_400_000),
      DEFAULT_ATTEMPT_TIMEOUT_MS,
    )
    .option(
      '--retries <n>',
      descriptions.retries ?? 'resends after the first attempt',
      intFlag(0, 1000),
      DEFAULT_RETRIES,
    );
}

/** `--log-level` (client logs on stderr, off by default) and `--pretty`. */
export function clientLogOptions(command: Command): Command {
  return command.addOption(logLevelOption('silent')).addOption(prettyOption());
}

/** The CURVE flags, last in every client command's help. */
export function curveOptions(command: Command): Command {
  return clientSecurityOptions(command);
}

/** A subcommand of zpat: usage errors are one `zpat <command>: error: ...` line, exit 2. */
export function zpatCommand(command: Command): Command {
  return configureCommand(command);
}

/**
 * A command that only groups subcommands (`zpat`, `zpat titanic`, ...): given none, it prints its
 * help on stderr and exits 2 (a usage error); `--help` and `help` print it on stdout and exit 0.
 */
export function groupCommand(command: Command): Command {
  return configureCommand(command).exitOverride((err: CommanderError) => {
    if (err.code === 'commander.help') process.exit(err.exitCode === 0 ? 0 : EXIT_USAGE);
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') process.exit(0);
    process.exit(EXIT_USAGE);
  });
}
