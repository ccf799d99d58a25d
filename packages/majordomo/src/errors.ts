/**
 * Error classes of `@zpatterns/majordomo`. Each failure mode is its own class with a stable string
 * `code`; the client and worker append their own classes below the broker's.
 */
import { ZPatternsError } from '@zpatterns/core';

/** Stable codes of the errors raised by `@zpatterns/majordomo` (beyond core's). */
export type MajordomoErrorCode = 'ERR_MDP_BIND' | 'ERR_MDP_OPTIONS' | (string & {});

/** Base class of every Majordomo error. */
export class MajordomoError<TCode extends string = MajordomoErrorCode> extends ZPatternsError<TCode> {
  override name = 'MajordomoError';
}

/** The broker could not bind an endpoint (address in use, bad endpoint, closed broker). */
export class BrokerBindError extends MajordomoError<'ERR_MDP_BIND'> {
  override name = 'BrokerBindError';
  readonly endpoint: string;
  constructor(endpoint: string, options?: ErrorOptions) {
    super('ERR_MDP_BIND', `broker could not bind ${endpoint}`, options);
    this.endpoint = endpoint;
  }
}

/** An option is out of range (for example `heartbeatIntervalMs <= 0`). The message names it. */
export class MajordomoOptionsError extends MajordomoError<'ERR_MDP_OPTIONS'> {
  override name = 'MajordomoOptionsError';
  constructor(message: string, options?: ErrorOptions) {
    super('ERR_MDP_OPTIONS', message, options);
  }
}
