/**
 * What the broker's parts share: the resolved options, the counters, the clock, the loggers and
 * the two ways out (to clients, to workers). The `Broker` builds one and hands it to its queues,
 * its worker registry, its dispatcher and its inbound router, so none of them imports another's
 * owner.
 */
import type { Clock, Frames, Logger } from '@zpatterns/core';
import type { WarningLimiter } from '@zpatterns/core/internal';
import type { BrokerObserver, BrokerStats, ResolvedBrokerOptions } from './broker-options.js';
import type { BrokerStatus } from './broker-status.js';

export interface BrokerContext {
  readonly options: ResolvedBrokerOptions;
  /** The broker's counters, updated in place. */
  readonly stats: BrokerStats;
  readonly clock: Clock;
  readonly log: Logger;
  /** `log` when debug is enabled (for the per-transition lines), else `undefined`. */
  readonly debugLog: Logger | undefined;
  /** Warnings about bad input, rate-limited. */
  readonly warnings: WarningLimiter;
  /** A separate budget for worker expiry and loss, so a flood of garbage cannot hide them. */
  readonly workerWarnings: WarningLimiter;
  /** Refusals at the queue bounds: one line per second at most, with the figures. */
  readonly overloadWarnings: WarningLimiter;
  /** The per-service hook of `observeBroker()`; `{}` without one. */
  observer: BrokerObserver;
  /** True from the first socket's creation until `close()` begins: input is handled. */
  isOpen(): boolean;
  /** Report a status event on `broker.status()`. */
  emit(event: BrokerStatus): void;
  /** Queue a message on the client ROUTER (identity first). */
  toClient(message: Frames): void;
  /** Queue a message on the ROUTER workers use (the same one unless `workerBind` is set). */
  toWorker(message: Frames): void;
}
