/** The status events of the Majordomo broker, from `broker.status()`. */
import type {
  ServiceAvailableEvent,
  ServiceUnavailableEvent,
  WorkerReadyEvent,
  WorkerRemovedEvent,
} from '@zpatterns/core';

/**
 * The broker's status events (beside `started` and `closed`): `worker-ready` (a worker registered
 * a service), `worker-removed` (`silent`: no heartbeat for `heartbeatIntervalMs * liveness`;
 * `disconnect`: it said DISCONNECT; `unreachable`: a send to it failed, its connection is gone;
 * `error`: it broke the protocol), `service-available` (a service's first worker) and
 * `service-unavailable` (its last one went; queued requests wait until `requestTtlMs`).
 */
export type BrokerStatus = WorkerReadyEvent | WorkerRemovedEvent | ServiceAvailableEvent | ServiceUnavailableEvent;
