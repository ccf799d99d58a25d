/**
 * The root logger of a daemon or CLI: JSON lines on stdout by default (one object per line, ready
 * for a log shipper), or human output with `--pretty`, in colour only when stdout is a terminal.
 */
import { pino, type Logger, type LevelWithSilent } from 'pino';
import pretty from 'pino-pretty';

/** A pino level, or 'silent': what `--log-level` accepts. */
export type LogLevel = LevelWithSilent;

/** The values `--log-level` accepts, most severe first; `silent` logs nothing. */
export const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Options of `createRootLogger(options)`. */
export interface RootLoggerOptions {
  /** Name of the app, logged as `name` on every line. */
  name: string;
  /** Lowest level written. @default 'info' */
  level?: LevelWithSilent;
  /** Human-readable output instead of JSON; coloured only on a terminal (never into a pipe or file). @default false */
  pretty?: boolean;
  /** Where to write. @default stdout (fd 1), synchronously so nothing is lost on exit */
  destination?: NodeJS.WritableStream;
}

/**
 * The app's root pino logger: JSON lines (or pretty output) with `name` on each, written
 * synchronously to stdout unless `destination` is given. Libraries get children of it.
 */
export function createRootLogger(options: RootLoggerOptions): Logger {
  const level = options.level ?? 'info';
  if (options.pretty === true) {
    return pino(
      { name: options.name, level },
      pretty({
        sync: true,
        colorize: options.destination === undefined && process.stdout.isTTY,
        translateTime: 'SYS:HH:MM:ss.l',
        destination: options.destination ?? 1,
      }),
    );
  }
  return pino(
    { name: options.name, level, base: { name: options.name, pid: process.pid } },
    options.destination ?? pino.destination({ fd: 1, sync: true }),
  );
}
