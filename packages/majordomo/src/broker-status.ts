/** The status events of the Majordomo broker, from `broker.status()`. */
import type { WorkerRemovedReason } from './broker-worker.js';
import type { MdpVersion } from './codec.js';

/**
 * The broker's status events, from `broker.status()` (beside `started` and `closed`): workers
 * coming and going, and services gaining their first worker or losing their last.
 */
export type BrokerStatus =
  | {
      readonly type: 'worker-ready';
      /** The worker's routing id, hex. */
      readonly worker: string;
      /** The service it registered (latin1). */
      readonly service: string;
      /** The MDP version it speaks. */
      readonly version: MdpVersion;
    }
  | {
      readonly type: 'worker-expired';
      /** The worker's routing id, hex. */
      readonly worker: string;
      /** Its service (latin1). */
      readonly service: string;
      /** Silence that expired it: `heartbeatIntervalMs * liveness` or more. */
      readonly silentMs: number;
      /** Whether it held a request (requeued for idempotent services, dropped otherwise). */
      readonly busy: boolean;
    }
  | {
      readonly type: 'worker-removed';
      /** The worker's routing id, hex. */
      readonly worker: string;
      /** Its service (latin1). */
      readonly service: string;
      /** Why: it sent DISCONNECT, became unreachable, or broke the protocol. */
      readonly reason: Exclude<WorkerRemovedReason, 'silent'>;
    }
  | {
      readonly type: 'service-available';
      /** The service (latin1) that now has a live worker after having none. */
      readonly service: string;
    }
  | {
      readonly type: 'service-unavailable';
      /** The service (latin1) whose last worker went. */
      readonly service: string;
      /** Its requests still queued (they wait for a new worker until `requestTtlMs`). */
      readonly queued: number;
    };
