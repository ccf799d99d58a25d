/**
 * Error classes of `@zpatterns/freelance`: one class per failure mode, each with a stable `code`.
 */
import { TimeoutError, ZPatternsError } from '@zpatterns/core';

/** Stable codes of the errors raised by `@zpatterns/freelance` (beyond core's). */
export type FreelanceErrorCode = 'ERR_FLP_OPTIONS' | 'ERR_FLP_BIND' | (string & {});

/** Base class of every Freelance error. */
export class FreelanceError<TCode extends string = FreelanceErrorCode> extends ZPatternsError<TCode> {
  /** Always `'FreelanceError'`. */
  override name = 'FreelanceError';
}

/** An option is out of range or inconsistent. The message names it. */
export class FreelanceOptionsError extends FreelanceError<'ERR_FLP_OPTIONS'> {
  /** Always `'FreelanceOptionsError'`. */
  override name = 'FreelanceOptionsError';
  constructor(message: string, options?: ErrorOptions) {
    super('ERR_FLP_OPTIONS', message, options);
  }
}

/** The server could not bind its endpoint. */
export class FreelanceBindError extends FreelanceError<'ERR_FLP_BIND'> {
  /** Always `'FreelanceBindError'`. */
  override name = 'FreelanceBindError';
  /** The endpoint that could not be bound. */
  readonly endpoint: string;
  constructor(endpoint: string, options?: ErrorOptions) {
    super('ERR_FLP_BIND', `freelance server could not bind ${endpoint}`, options);
    this.endpoint = endpoint;
  }
}

/**
 * A request got no reply: its `timeoutMs` ran out, or every one of its `1 + retries` attempts
 * timed out. Extends core's `TimeoutError`, so `code` is `'ERR_TIMEOUT'`. `tried` lists the
 * servers the request was sent to, in order (empty when no server was ever reachable).
 */
export class FreelanceTimeoutError extends TimeoutError {
  /** Always `'FreelanceTimeoutError'`. */
  override name = 'FreelanceTimeoutError';
  /** The servers the request was sent to, in order (empty when none was ever alive). */
  readonly tried: readonly string[];
  /** Sends made: the first and every resend. */
  readonly attempts: number;
  constructor(tried: readonly string[], attempts: number, reason: string, options?: ErrorOptions) {
    super(
      `no reply ${reason} after ${attempts} attempt(s); servers tried: ` +
        `${tried.length === 0 ? 'none (no server was reachable)' : tried.join(', ')} ` +
        `(raise timeoutMs, attemptTimeoutMs or retries, or check that a server is running)`,
      options,
    );
    this.tried = tried;
    this.attempts = attempts;
  }
}

/** Every error class of this package. */
export const errors = { FreelanceError, FreelanceOptionsError, FreelanceBindError, FreelanceTimeoutError } as const;
