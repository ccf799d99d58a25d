/**
 * Logger plumbing. Libraries accept an optional pino logger, derive one child per component, and
 * default to a silent logger: they never print on their own.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

let silent: Logger | undefined;

/** A logger that discards everything. */
export function silentLogger(): Logger {
  silent ??= pino({ level: 'silent' });
  return silent;
}

/** The component's logger: a child of `parent` with `bindings`, or the silent logger. */
export function componentLogger(parent: Logger | undefined, bindings: Record<string, unknown>): Logger {
  return (parent ?? silentLogger()).child(bindings);
}
