import { ZPatternsError } from '@zpatterns/core';

/** Stable codes of the errors raised by `@zpatterns/bstar`. */
export type BStarErrorCode = 'ERR_BSTAR_NOT_STARTED';

/** `stateEndpoint` or `serve()` used before `start()` resolved. */
export class NotStartedError extends ZPatternsError<BStarErrorCode> {
  override name = 'NotStartedError';
  constructor(what: string, options?: ErrorOptions) {
    super('ERR_BSTAR_NOT_STARTED', `BinaryStar: ${what} needs start() first`, options);
  }
}

/** Every error class this package adds, for lookup by name. */
export const errors = { NotStartedError } as const;
