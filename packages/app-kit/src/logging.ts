/**
 * The root logger of a daemon or CLI: JSON lines on stdout by default (one object per line, ready
 * for a log shipper), or human output with `--pretty`, in colour only when stdout is a terminal.
 * Logged errors carry their stack only at `--log-level debug` or `trace`.
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
  /**
   * Lines to write at debug instead of their own level: a daemon's chatter about its own parts
   * (Titanic's in-process broker greeting Titanic's own workers). Gets the line's message and its
   * fields (the logger's bindings and the call's own).
   */
  demote?: (message: string, fields: Record<string, unknown>) => boolean;
}

const CHINDINGS = pino.symbols.chindingsSym;

/**
 * One name per field: a child that binds a key its parent already bound (a component inside a
 * component, both with `component`) replaces the parent's value instead of repeating the key.
 */
function oneValuePerKey(child: Logger): void {
  const holder = child as unknown as Record<symbol, string>;
  const chindings = holder[CHINDINGS] ?? '';
  if (chindings === '') return;
  const parsed = JSON.parse(`{${chindings.slice(1)}}`) as Record<string, unknown>;
  const unique = JSON.stringify(parsed);
  if (unique.length - 1 !== chindings.length) holder[CHINDINGS] = `,${unique.slice(1, -1)}`;
}

/** Levels at which logged errors keep their stack (and their causes' stacks). */
const STACK_LEVELS: readonly LevelWithSilent[] = ['debug', 'trace'];

/** pino's error serializer without the stacks: what `err` looks like above debug level. */
function errWithoutStack(err: Error): Record<string, unknown> {
  const serialized = pino.stdSerializers.err(err) as unknown as Record<string, unknown>;
  const strip = (value: unknown, depth: number): unknown => {
    if (typeof value !== 'object' || value === null || depth > 5) return value;
    const { stack: _stack, ...rest } = value as Record<string, unknown>;
    if ('cause' in rest) rest['cause'] = strip(rest['cause'], depth + 1);
    return rest;
  };
  return strip(serialized, 0) as Record<string, unknown>;
}

/** A pino `logMethod` hook writing the lines `demote` picks at debug (or not at all, above debug). */
function demoting(
  demote: NonNullable<RootLoggerOptions['demote']>,
): (this: Logger, args: Parameters<Logger['info']>, method: (...args: unknown[]) => void, level: number) => void {
  return function (this: Logger, args, method, level) {
    const message = args.find((arg): arg is string => typeof arg === 'string');
    const own: unknown = args[0];
    const fields = (): Record<string, unknown> =>
      typeof own === 'object' && own !== null && !(own instanceof Error)
        ? { ...this.bindings(), ...(own as Record<string, unknown>) }
        : this.bindings();
    if (level > 20 && message !== undefined && demote(message, fields())) {
      if (this.isLevelEnabled('debug')) this.debug(...(args as [object, string]));
      return;
    }
    method.apply(this, args);
  };
}

/**
 * The app's root pino logger: JSON lines (or pretty output) with `name` on each, written
 * synchronously to stdout unless `destination` is given. Libraries get children of it.
 */
export function createRootLogger(options: RootLoggerOptions): Logger {
  const level = options.level ?? 'info';
  const common = {
    name: options.name,
    level,
    onChild: oneValuePerKey,
    // Stacks only for whoever asked for debug: above it an error is its type, code and message.
    ...(STACK_LEVELS.includes(level) ? {} : { serializers: { err: errWithoutStack } }),
    ...(options.demote === undefined ? {} : { hooks: { logMethod: demoting(options.demote) } }),
  };
  if (options.pretty === true) {
    return pino(
      common,
      pretty({
        sync: true,
        colorize: options.destination === undefined && process.stdout.isTTY,
        translateTime: 'SYS:HH:MM:ss.l',
        destination: options.destination ?? 1,
      }),
    );
  }
  return pino(
    { ...common, base: { name: options.name, pid: process.pid } },
    options.destination ?? pino.destination({ fd: 1, sync: true }),
  );
}
