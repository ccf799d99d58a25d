/**
 * Error classes of `@zpatterns/majordomo`. Each failure mode is its own class with a stable string
 * `code`; the client and worker append their own classes below the broker's.
 */
import { BindError, InvalidArgumentError, TimeoutError, ZPatternsError } from '@zpatterns/core';

/** Stable codes of the errors raised by `@zpatterns/majordomo` (beyond core's). */
export type MajordomoErrorCode = string & {};

/** Base class of every Majordomo error. */
export class MajordomoError<TCode extends string = MajordomoErrorCode> extends ZPatternsError<TCode> {
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

/**
 * An option is out of range (for example `heartbeatIntervalMs <= 0`). The message names it.
 * Extends core's `InvalidArgumentError`, so `code` is `'ERR_INVALID_ARGUMENT'`.
 */
export class MajordomoOptionsError extends InvalidArgumentError {
  /** `'MajordomoOptionsError'`. */
  override name = 'MajordomoOptionsError';
}

// ---------------------------------------------------------------------------------------------
// Client and worker errors

/**
 * A client request got no reply: after `1 + retries` attempts of `attemptTimeoutMs` each (Lazy
 * Pirate gave up), or within the call's `timeoutMs`. Extends core's `TimeoutError`, so `code` is
 * `'ERR_TIMEOUT'`.
 */
export class MajordomoTimeoutError extends TimeoutError {
  /** `'MajordomoTimeoutError'`. */
  override name = 'MajordomoTimeoutError';
  /** The service asked. */
  readonly service: string;
  /** Attempts made (sends of the request). */
  override readonly attempts: number;
  /**
   * @param bound - which bound ran out: `{ attemptTimeoutMs }` when the attempts were used up,
   *   `{ timeoutMs }` when the whole call's bound passed
   */
  constructor(
    service: string,
    attempts: number,
    bound: { readonly attemptTimeoutMs: number } | { readonly timeoutMs: number },
    options?: ErrorOptions,
  ) {
    super(
      'timeoutMs' in bound
        ? `no reply from service '${service}' within timeoutMs (${bound.timeoutMs} ms, ${attempts} attempt(s))`
        : `no reply from service '${service}' after ${attempts} attempt(s) of ${bound.attemptTimeoutMs} ms ` +
            `(raise attemptTimeoutMs or retries, or check that the broker and a worker are running)`,
      options,
    );
    this.service = service;
    this.attempts = attempts;
  }
}

/** A worker gave up reconnecting: its `reconnect` policy returned `null`. */
export class WorkerGaveUpError extends MajordomoError<'ERR_MDP_GAVE_UP'> {
  /** `'WorkerGaveUpError'`. */
  override name = 'WorkerGaveUpError';
  constructor(attempts: number, options?: ErrorOptions) {
    super(
      'ERR_MDP_GAVE_UP',
      `worker gave up after ${attempts} reconnect attempt(s) (see the reconnect option)`,
      options,
    );
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
