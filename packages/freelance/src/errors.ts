/**
 * Error classes of `@zpatterns/freelance`: one class per failure mode, each with a stable `code`.
 */
import { BindError, InvalidArgumentError, TimeoutError, ZPatternsError } from '@zpatterns/core';

/** Stable codes of the errors raised by `@zpatterns/freelance` (beyond core's). */
export type FreelanceErrorCode = string & {};

/** Base class of every Freelance error. */
export class FreelanceError<TCode extends string = FreelanceErrorCode> extends ZPatternsError<TCode> {
  /** Always `'FreelanceError'`. */
  override name = 'FreelanceError';
}

/**
 * An option is out of range or inconsistent. The message names it. Extends core's
 * `InvalidArgumentError`, so `code` is `'ERR_INVALID_ARGUMENT'`.
 */
export class FreelanceOptionsError extends InvalidArgumentError {
  /** Always `'FreelanceOptionsError'`. */
  override name = 'FreelanceOptionsError';
}

/** The server could not bind its endpoint. Extends core's `BindError`, so `code` is `'ERR_BIND'`. */
export class FreelanceBindError extends BindError {
  /** Always `'FreelanceBindError'`. */
  override name = 'FreelanceBindError';
  /** @param endpoint - the endpoint as given */
  constructor(endpoint: string, options?: ErrorOptions) {
    super(endpoint, `freelance server could not bind ${endpoint}`, options);
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
  override readonly attempts: number;
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
