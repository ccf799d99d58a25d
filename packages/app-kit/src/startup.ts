/**
 * Start-up failures: a daemon that cannot start says why in one line on stderr, in the same words
 * and with the same code in every daemon, and exits 1:
 *
 *   mdbroker: cannot bind tcp://127.0.0.1:5555: address in use (ERR_BIND)
 *   titanic: cannot use data directory /srv/x/titanic: /srv/x is a file, not a directory (ERR_DATA_DIR)
 *   titanic: cannot open store postgres://titanic@db/titanic: connection refused (ERR_TITANIC_STORE)
 *   clonesrv: cannot read key file ./server.key: no such file (ERR_KEY_FILE)
 *
 * No stack trace: with `--log-level debug` (or trace) the error, stack and causes, is logged as well.
 */
import { mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ZPatternsError } from '@zpatterns/core';
import type { Logger } from 'pino';
import { EXIT_FAILURE, oneLine } from './usage.js';

/** Codes a daemon's start-up can fail with that no library declares. */
export type StartupErrorCode = 'ERR_DATA_DIR' | 'ERR_START';

/** A daemon could not start for a reason of its own (its data directory, say). */
export class StartupError extends ZPatternsError<StartupErrorCode> {
  /** Always `'StartupError'`. */
  override name = 'StartupError';
}

/** What a start-up failure says: `message` reads after `<program>: `; `code` goes in brackets. */
export interface StartupFailure {
  /** What went wrong, in a few words: `cannot bind tcp://127.0.0.1:5555: address in use`. */
  message: string;
  /** The error's code, e.g. `ERR_BIND`. */
  code: string;
}

/** Short words for the errno codes a bind or a file operation meets. */
const ERRNO_WORDS: Record<string, string> = {
  EADDRINUSE: 'address in use',
  EADDRNOTAVAIL: 'address not available on this host',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENODEV: 'no such network interface',
  ENOENT: 'no such file or directory',
  ENOTDIR: 'not a directory',
  EEXIST: 'already exists',
  EISDIR: 'is a directory',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on device',
  ENAMETOOLONG: 'path too long',
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host not found (DNS lookup failed)',
  ETIMEDOUT: 'timed out',
  EHOSTUNREACH: 'host unreachable',
  EINVAL: 'invalid argument',
};

type Failure = Error & { code?: unknown; errno?: unknown; address?: unknown; port?: unknown; endpoint?: unknown };

/** The error and its causes, outermost first. */
function chain(err: unknown): Failure[] {
  const out: Failure[] = [];
  for (let e: unknown = err; e instanceof Error && out.length < 10; e = e.cause) out.push(e);
  return out;
}

/** The words for the innermost system error in the chain, else the innermost message. */
function reason(errors: readonly Failure[]): string {
  for (const e of [...errors].reverse()) {
    if (typeof e.code === 'string' && ERRNO_WORDS[e.code] !== undefined) return ERRNO_WORDS[e.code] ?? '';
  }
  const last = errors[errors.length - 1];
  return last === undefined ? 'unknown error' : lowerFirst(last.message);
}

function lowerFirst(text: string): string {
  return /^[A-Z][a-z]/.test(text) ? text[0]?.toLowerCase() + text.slice(1) : text;
}

/**
 * What a start-up failure says, whatever threw it: a bind error of any package or a raw zeromq or
 * `net` bind error (`cannot bind <endpoint>: <why>`, ERR_BIND), a key file (ERR_KEY_FILE), a
 * `StartupError` or any other coded error (its own message and code), else `ERR_START`.
 */
export function describeStartupFailure(err: unknown): StartupFailure {
  const errors = chain(err);
  const outer = errors[0];
  if (outer === undefined) return { message: `cannot start: ${String(err)}`, code: 'ERR_START' };
  const bind = errors.find((e) => e.code === 'ERR_BIND' && typeof e.endpoint === 'string');
  if (bind !== undefined)
    return { message: `cannot bind ${String(bind.endpoint)}: ${reason(errors)}`, code: 'ERR_BIND' };
  const raw = errors.find((e) => typeof e.code === 'string' && /^EADDR/.test(e.code) && e.address !== undefined);
  if (raw !== undefined) {
    const where = typeof raw.port === 'number' ? `${String(raw.address)}:${raw.port}` : String(raw.address);
    return { message: `cannot bind ${where}: ${reason(errors)}`, code: 'ERR_BIND' };
  }
  const coded = errors.find((e) => e instanceof ZPatternsError) as ZPatternsError | undefined;
  if (coded !== undefined) return { message: plainCause(coded, errors), code: coded.code };
  return { message: `cannot start: ${oneLine(reason(errors))}`, code: 'ERR_START' };
}

/**
 * A coded error's message, with a system error it quotes at its end (`...: ENOTDIR: not a
 * directory, mkdir '/a/b'`) said in short words instead (`...: not a directory`).
 */
function plainCause(coded: Error, errors: readonly Failure[]): string {
  const message = oneLine(coded.message);
  const inner = errors.slice(errors.indexOf(coded as Failure) + 1).find((e) => typeof e.code === 'string');
  const words = typeof inner?.code === 'string' ? ERRNO_WORDS[inner.code] : undefined;
  if (inner === undefined || words === undefined) return message;
  const quoted = oneLine(inner.message);
  return message.endsWith(quoted) ? `${message.slice(0, message.length - quoted.length)}${words}` : message;
}

/** The line a start-up failure prints, without its newline: `<program>: <message> (<code>)`. */
export function startupFailureLine(program: string, err: unknown): string {
  const { message, code } = describeStartupFailure(err);
  return `${program}: ${message} (${code})`;
}

/** Options of `reportStartupFailure(program, err, options)`. */
export interface ReportStartupOptions {
  /** At `debug` or `trace`, the error (stack and causes) is logged here too. */
  logger?: Logger;
  /** Where the line goes. @default process.stderr */
  stderr?: NodeJS.WritableStream;
}

/**
 * Print the start-up failure line on stderr (with the stack in the log at debug level) and return
 * the exit code, 1.
 */
export function reportStartupFailure(program: string, err: unknown, options: ReportStartupOptions = {}): number {
  const { logger } = options;
  if (logger?.isLevelEnabled('debug') === true) logger.debug({ err }, 'failed to start');
  (options.stderr ?? process.stderr).write(`${startupFailureLine(program, err)}\n`);
  return EXIT_FAILURE;
}

/**
 * Create the data directory `dir` (and its parents) with mode `mode`, or throw a `StartupError`
 * (ERR_DATA_DIR) that says what is in the way: `cannot use data directory /a/b/c: /a/b is a file,
 * not a directory`, `... : it is a file`, `... : permission denied`.
 */
export function prepareDataDir(dir: string, mode = 0o700): string {
  const absolute = resolve(dir);
  const fail = (why: string, cause?: unknown): never => {
    throw new StartupError('ERR_DATA_DIR', `cannot use data directory ${dir}: ${why}`, { cause });
  };
  try {
    mkdirSync(absolute, { recursive: true, mode });
  } catch (err) {
    const code = (err as Failure).code;
    if (code === 'EEXIST' || code === 'ENOTDIR') {
      const blocker = firstFileOnPath(absolute);
      if (blocker === absolute) fail('it is a file, not a directory', err);
      if (blocker !== undefined) fail(`${blocker} is a file, not a directory`, err);
    }
    fail(reason(chain(err)), err);
  }
  if (!statSync(absolute).isDirectory()) fail('it is a file, not a directory');
  return absolute;
}

/** The first path from the root down to `path` that exists and is not a directory. */
function firstFileOnPath(path: string): string | undefined {
  const parts: string[] = [];
  for (let p = path; ; p = dirname(p)) {
    parts.unshift(p);
    if (dirname(p) === p) break;
  }
  for (const p of parts) {
    try {
      if (!statSync(p).isDirectory()) return p;
    } catch {
      return undefined;
    }
  }
  return undefined;
}
