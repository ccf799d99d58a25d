/**
 * One service in the broker: its waiting requests (FIFO, `Deque`) and its idle workers (LRU, a
 * `Map` in insertion order: the worker idle longest is first). Invariant kept by the broker: a
 * service never has idle workers and queued requests at the same time.
 */
import { Deque } from '@zpatterns/core/internal';
import type { BrokerWorker, PendingRequest, WorkerService } from './broker-worker.js';

export class BrokerService implements WorkerService {
  readonly name: Buffer;
  /** `name` as latin1: the key in the broker's service map (no UTF-8 decoding of binary names). */
  readonly key: string;
  readonly idempotent: boolean;
  readonly queue = new Deque<PendingRequest>(16);
  readonly idle = new Map<string, BrokerWorker<BrokerService>>();
  /** Registered (live) workers, idle or busy. */
  workers = 0;
  /** Client requests for this service, counted for `Broker.snapshot()`. */
  requests = 0;
  /** True while the request-expiry heap holds an entry for this service. */
  expiryScheduled = false;
  /** The attributes of the broker's span of each request for this service (OpenTelemetry RPC conventions). */
  readonly spanAttributes: Readonly<Record<string, string>>;

  constructor(name: Buffer, key: string, idempotent: boolean) {
    this.name = Buffer.from(name); // own copy: the inbound frame's memory belongs to one message
    this.key = key;
    this.idempotent = idempotent;
    this.spanAttributes = { 'rpc.system': 'majordomo', 'rpc.service': key };
  }

  /** Nothing refers to this service: no workers and no queued requests. */
  get unused(): boolean {
    return this.workers === 0 && this.queue.length === 0;
  }

  /** Remove and return the longest-idle worker. */
  popIdle(): BrokerWorker<BrokerService> | undefined {
    for (const worker of this.idle.values()) {
      this.idle.delete(worker.id);
      return worker;
    }
    return undefined;
  }

  /** The longest-idle worker, left in place. */
  peekIdle(): BrokerWorker<BrokerService> | undefined {
    for (const worker of this.idle.values()) return worker;
    return undefined;
  }
}
