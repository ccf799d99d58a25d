/**
 * Error classes of `@zpatterns/freelance`. Its calls fail with core's classes (`TimeoutError`
 * with `attempts`, `AbortError`, `ClosedError`, `NotStartedError`, `InvalidArgumentError`); the
 * one class of its own is the server's bind failure.
 */
import { BindError } from '@zpatterns/core';

/**
 * Every `code` an error raised by `@zpatterns/freelance` can carry: a closed union, so a `switch`
 * over it can be exhaustive.
 */
export type FreelanceErrorCode =
  'ERR_TIMEOUT' | 'ERR_ABORTED' | 'ERR_CLOSED' | 'ERR_NOT_STARTED' | 'ERR_INVALID_ARGUMENT' | 'ERR_BIND';

/** The server could not bind its endpoint. Extends core's `BindError`, so `code` is `'ERR_BIND'`. */
export class FreelanceBindError extends BindError {
  /** Always `'FreelanceBindError'`. */
  override name = 'FreelanceBindError';
  /** @param endpoint - the endpoint as given */
  constructor(endpoint: string, options?: ErrorOptions) {
    super(endpoint, `freelance server could not bind ${endpoint}`, options);
  }
}

/** Every error class of this package. */
export const errors = { FreelanceBindError } as const;
