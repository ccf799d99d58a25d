/**
 * The errors a caller of `@zpatterns/pirate` may see. The package adds no error class of its own:
 * every failure is one of core's, with its stable `code`.
 *
 * - `TimeoutError` (`ERR_TIMEOUT`): a Lazy Pirate request got no reply after every attempt, or its
 *   whole `timeoutMs` ran out; `attempts` is how many times it was sent.
 * - `GaveUpError` (`ERR_GAVE_UP`): a Paranoid Pirate worker's `reconnectDelay` policy returned
 *   `null`; the worker closed itself and `closed()` resolves with it.
 * - `AbortError`, `ClosedError`, `NotStartedError`, `InvalidArgumentError`, `BindError`,
 *   `ProtocolError`: as everywhere in zpatterns.
 */
import {
  AbortError,
  BindError,
  ClosedError,
  GaveUpError,
  InvalidArgumentError,
  NotStartedError,
  ProtocolError,
  TimeoutError,
} from '@zpatterns/core';

/** Every error class a caller of this package may see, for lookup by name. */
export const errors = {
  AbortError,
  BindError,
  ClosedError,
  GaveUpError,
  InvalidArgumentError,
  NotStartedError,
  ProtocolError,
  TimeoutError,
} as const;
