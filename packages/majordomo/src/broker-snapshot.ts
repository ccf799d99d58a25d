/**
 * A read-only picture of what a broker holds now, service by service, worker by worker and client
 * by client: what an operator's status page shows. Built on demand (never on the hot path), in
 * O(services + workers + queued requests).
 */
import type { BrokerService } from './broker-service.js';
import type { BrokerWorker } from './broker-worker.js';
import type { MdpVersion } from './codec.js';

/** One service in `BrokerSnapshot.services`. */
export interface BrokerServiceSnapshot {
  /** The service name (latin1). */
  readonly name: string;
  /** Registered workers, idle or busy. */
  readonly workers: number;
  /** Of `workers`: waiting for a request. */
  readonly idleWorkers: number;
  /** Of `workers`: holding a request. */
  readonly busyWorkers: number;
  /** Requests waiting for a worker. */
  readonly queuedRequests: number;
  /** Their bytes, as counted against `maxQueuedBytes`. */
  readonly queuedBytes: number;
  /** How long the oldest queued request has waited (ms); 0 with nothing queued. */
  readonly oldestQueuedMs: number;
  /** Client requests for this service since the service appeared (a rate comes from two reads). */
  readonly requests: number;
}

/** One worker in `BrokerSnapshot.workers`. */
export interface BrokerWorkerSnapshot {
  /** The worker's address on the broker's socket: its routing id, hex. */
  readonly address: string;
  /** Its service (latin1). */
  readonly service: string;
  /** The MDP version it speaks. */
  readonly version: MdpVersion;
  /** Waiting for a request, or holding one. */
  readonly state: 'idle' | 'busy';
  /** Idle: how long it has waited (ms). Busy: how long it has held its request (ms). */
  readonly stateMs: number;
  /** Requests it has answered (final replies). */
  readonly served: number;
}

/** One client in `BrokerSnapshot.clients`: a client with requests queued. */
export interface BrokerClientSnapshot {
  /** The client's address on the broker's socket: its routing id, hex. */
  readonly address: string;
  /** Its requests waiting for a worker, all services. */
  readonly queuedRequests: number;
  /** Their bytes, as counted against `maxQueuedBytesPerClient`. */
  readonly queuedBytes: number;
  /** How long its oldest queued request has waited (ms). */
  readonly oldestQueuedMs: number;
}

/** What `Broker.snapshot()` returns. Lists are sorted: services by name, workers by service, clients by bytes. */
export interface BrokerSnapshot {
  /** Every service with workers or queued requests. */
  readonly services: BrokerServiceSnapshot[];
  /** Every registered worker. */
  readonly workers: BrokerWorkerSnapshot[];
  /** Every client with requests queued. */
  readonly clients: BrokerClientSnapshot[];
}

/** Build the snapshot from the broker's tables at clock time `now`. */
export function brokerSnapshot(
  services: Iterable<BrokerService>,
  workers: Iterable<BrokerWorker<BrokerService>>,
  now: number,
): BrokerSnapshot {
  const ago = (since: number): number => Math.round(Math.max(0, now - since));
  const clients = new Map<string, { address: string; queuedRequests: number; queuedBytes: number; oldest: number }>();
  const serviceList: BrokerServiceSnapshot[] = [];
  for (const service of services) {
    let queuedBytes = 0;
    for (const request of service.queue) {
      queuedBytes += request.bytes;
      const key = request.share?.key ?? request.client.toString('latin1');
      const client = clients.get(key);
      if (client === undefined) {
        clients.set(key, {
          address: request.client.toString('hex'),
          queuedRequests: 1,
          queuedBytes: request.bytes,
          oldest: request.arrivedAt,
        });
      } else {
        client.queuedRequests++;
        client.queuedBytes += request.bytes;
        client.oldest = Math.min(client.oldest, request.arrivedAt);
      }
    }
    const head = service.queue.peek();
    serviceList.push({
      name: service.key,
      workers: service.workers,
      idleWorkers: service.idle.size,
      busyWorkers: service.workers - service.idle.size,
      queuedRequests: service.queue.length,
      queuedBytes,
      oldestQueuedMs: head === undefined ? 0 : ago(head.arrivedAt),
      requests: service.requests,
    });
  }
  const workerList: BrokerWorkerSnapshot[] = [];
  for (const worker of workers) {
    const busy = worker.request;
    workerList.push({
      address: worker.id,
      service: worker.service.key,
      version: worker.version,
      state: busy === undefined ? 'idle' : 'busy',
      stateMs: ago(busy === undefined ? worker.idleSince : worker.busySince),
      served: worker.served,
    });
  }
  const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
  return {
    services: serviceList.sort((a, b) => byName(a.name, b.name)),
    workers: workerList.sort((a, b) => byName(a.service, b.service) || byName(a.address, b.address)),
    clients: [...clients.values()]
      .sort((a, b) => b.queuedBytes - a.queuedBytes)
      .map((c) => ({
        address: c.address,
        queuedRequests: c.queuedRequests,
        queuedBytes: c.queuedBytes,
        oldestQueuedMs: ago(c.oldest),
      })),
  };
}
