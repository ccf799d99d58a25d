/**
 * Error classes of `@zpatterns/majordomo`. Timeouts, give-ups and bad options are core's
 * (`TimeoutError` with `attempts`, `GaveUpError`, `InvalidArgumentError`); what is Majordomo's own
 * is here, each with a stable `code`.
 */
import { BindError, ZPatternsError } from '@zpatterns/core';

/** Stable codes of the errors raised by `@zpatterns/majordomo` (beyond core's). */
export type MajordomoErrorCode = 'ERR_MDP_VERSION';

/** Base class of the Majordomo errors that have a code of their own. */
export class MajordomoError<TCode extends MajordomoErrorCode = MajordomoErrorCode> extends ZPatternsError<TCode> {
  /** `'MajordomoError'`. */
  override name = 'MajordomoError';
}

/**
 * The broker could not bind an endpoint (address in use, bad endpoint, closed broker). Extends
 * core's `BindError`, so `code` is `'ERR_BIND'`.
 */
export class BrokerBindError extends BindError {
  /** `'BrokerBindError'`. */
  override name = 'BrokerBindError';
  /** @param endpoint - the endpoint as given */
  constructor(endpoint: string, options?: ErrorOptions) {
    super(endpoint, `broker could not bind ${endpoint}`, options);
  }
}

/** An operation the chosen MDP version cannot express, such as a PARTIAL reply on MDP/0.1. */
export class MdpVersionError extends MajordomoError<'ERR_MDP_VERSION'> {
  /** `'MdpVersionError'`. */
  override name = 'MdpVersionError';
  constructor(message: string, options?: ErrorOptions) {
    super('ERR_MDP_VERSION', message, options);
  }
}
