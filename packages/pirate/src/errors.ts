/**
 * Errors raised by `@zpatterns/pirate`. Each failure mode has its own class and a stable `code`;
 * messages name the option to tune. Core's `ClosedError`, `AbortError` and `TimeoutError` are
 * reused where they fit.
 */
import { AbortError, ClosedError, ProtocolError, TimeoutError, ZPatternsError } from '@zpatterns/core';

/** Stable codes of the errors this package adds. */
export type PirateErrorCode = 'ERR_PIRATE_NO_REPLY' | 'ERR_PIRATE_GAVE_UP';

/**
 * Lazy Pirate: no acceptable reply after every attempt ("server seems to be offline,
 * abandoning"). `attempts` is how many times the request was sent; `servers` the endpoints tried.
 */
export class NoReplyError extends ZPatternsError<'ERR_PIRATE_NO_REPLY'> {
  override name = 'NoReplyError';
  readonly attempts: number;
  readonly servers: readonly string[];

  constructor(attempts: number, timeoutMs: number, servers: readonly string[], options?: ErrorOptions) {
    super(
      'ERR_PIRATE_NO_REPLY',
      `no reply after ${attempts} attempt(s) of ${timeoutMs} ms to ${servers.join(', ')}; raise 'retries' or 'timeoutMs', or check the server`,
      options,
    );
    this.attempts = attempts;
    this.servers = servers;
  }
}

/**
 * Paranoid Pirate worker: the reconnect policy returned `null` (a finite `reconnectDelayMs`
 * policy ran out), so the worker closed itself.
 */
export class ReconnectGaveUpError extends ZPatternsError<'ERR_PIRATE_GAVE_UP'> {
  override name = 'ReconnectGaveUpError';
  readonly attempts: number;

  constructor(attempts: number, options?: ErrorOptions) {
    super(
      'ERR_PIRATE_GAVE_UP',
      `queue unreachable after ${attempts} reconnect attempt(s); see 'reconnectDelayMs'`,
      options,
    );
    this.attempts = attempts;
  }
}

/** Every error class a caller of this package may see, for lookup by name. */
export const errors = {
  NoReplyError,
  ReconnectGaveUpError,
  ClosedError,
  AbortError,
  TimeoutError,
  ProtocolError,
} as const;
