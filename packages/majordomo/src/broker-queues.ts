/**
 * The broker's service queues: the table of services (FIFO request queue and LRU idle workers
 * each), the bound on queued bytes (overall and per client) and the expiry of requests that waited
 * `requestTtlMs` for a worker.
 *
 * Request expiry costs no scan: a `MinHeap` holds each service with queued requests once, keyed by
 * the deadline of its oldest request (lazy deletion: a service whose head changed is re-keyed when
 * popped).
 */
import { frameEquals, failSpanAs, MinHeap } from '@zpatterns/core/internal';
import type { BrokerContext } from './broker-context.js';
import { BrokerService } from './broker-service.js';
import type { ClientShare, PendingRequest } from './broker-worker.js';

export class ServiceQueues {
  readonly #ctx: BrokerContext;
  readonly #services = new Map<string, BrokerService>();
  /** The service `require()` found last. */
  #lastService: BrokerService | undefined;
  readonly #idempotent: ReadonlySet<string>;
  /** Services with queued requests, keyed by the deadline of their oldest one (lazy deletion). */
  readonly #expiry = new MinHeap<BrokerService>();
  /** Bytes of every queued request (bodies, client identity, a fixed overhead), all services. */
  #queuedBytes = 0;
  /**
   * The same per client (routing id, latin1), for `maxQueuedBytesPerClient`: the share of every
   * client with requests queued (a share at 0 bytes is deleted). Each queued request holds its
   * client's share, so that taking it out of the queue is a subtraction, not a lookup.
   */
  readonly #clients = new Map<string, ClientShare>();
  /** The client whose share was found last, and that share: a pipelining client sends many in a row. */
  #lastClient: Buffer | undefined;
  #lastShare: ClientShare | undefined;
  readonly #requestTtlMs: number;

  constructor(ctx: BrokerContext) {
    this.#ctx = ctx;
    this.#idempotent = new Set(ctx.options.idempotentServices);
    this.#requestTtlMs = ctx.options.requestTtlMs;
  }

  /** Services known: with registered workers or queued requests. */
  get size(): number {
    return this.#services.size;
  }

  /** Bytes of the queued requests, as counted against `maxQueuedBytes`. */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  values(): IterableIterator<BrokerService> {
    return this.#services.values();
  }

  get(key: string): BrokerService | undefined {
    return this.#services.get(key);
  }

  /** The service named `name`, created on first use. */
  require(name: Buffer): BrokerService {
    // Consecutive messages mostly name the same service: compare bytes before making a key.
    const last = this.#lastService;
    if (last !== undefined && frameEquals(last.name, name) && this.#services.get(last.key) === last) return last;
    const key = name.toString('latin1');
    let service = this.#services.get(key);
    if (service === undefined) {
      service = new BrokerService(name, key, this.#idempotent.has(key));
      this.#services.set(key, service);
      this.#ctx.debugLog?.debug({ service: key }, 'service created');
    }
    this.#lastService = service;
    return service;
  }

  /**
   * Queue a new request, unless the queued bytes of all services would pass `maxQueuedBytes`, or
   * its client's would pass `maxQueuedBytesPerClient`: then the new request is refused (counted,
   * one rate-limited warning) and the accepted ones are kept. MDP has no error reply, so the
   * client's own timeout reports a refusal.
   */
  enqueue(service: BrokerService, request: PendingRequest): void {
    const { options, stats } = this.#ctx;
    const share = this.#share(request.client);
    const clientBytes = share.bytes;
    if (clientBytes + request.bytes > options.maxQueuedBytesPerClient) {
      stats.refused++;
      stats.refusedClientShare++;
      if (request.span !== undefined) failSpanAs(request.span, 'refused', 'the client has its share of the queue');
      this.#ctx.overloadWarnings.warn(
        {
          service: service.key,
          client: request.client.toString('hex'),
          clientQueuedBytes: clientBytes,
          maxQueuedBytesPerClient: options.maxQueuedBytesPerClient,
          refused: stats.refused,
        },
        'client at its share of the queue, its new request refused',
      );
      this.dropIfUnused(service);
      return;
    }
    if (this.#queuedBytes + request.bytes > options.maxQueuedBytes) {
      stats.refused++;
      if (request.span !== undefined) failSpanAs(request.span, 'refused', 'the queue holds maxQueuedBytes');
      this.#ctx.overloadWarnings.warn(
        {
          service: service.key,
          queuedBytes: this.#queuedBytes,
          requestBytes: request.bytes,
          maxQueuedBytes: options.maxQueuedBytes,
          queuedRequests: service.queue.length,
          refused: stats.refused,
        },
        'queued bytes at maxQueuedBytes, new request refused',
      );
      this.dropIfUnused(service);
      return;
    }
    this.#charge(request, share);
    service.queue.push(request);
    this.#scheduleExpiry(service);
  }

  /** Put an accepted request back at the head of its queue (even past `maxQueuedBytes`). */
  requeue(service: BrokerService, request: PendingRequest): void {
    this.#charge(request, this.#share(request.client));
    service.queue.unshift(request);
    this.#scheduleExpiry(service);
  }

  /** Take the oldest queued request of `service`. */
  dequeue(service: BrokerService): PendingRequest | undefined {
    const request = service.queue.shift();
    if (request !== undefined) this.#discharge(request);
    return request;
  }

  /** Forget `service` when nothing refers to it any more (no workers, no queued requests). */
  dropIfUnused(service: BrokerService): void {
    if (service.unused && this.#services.get(service.key) === service) {
      this.#services.delete(service.key);
      this.#ctx.debugLog?.debug({ service: service.key }, 'service removed');
    }
  }

  /** Drop the queued requests whose `requestTtlMs` has passed; one warning line for all of them. */
  expire(now: number): void {
    const heap = this.#expiry;
    let expired = 0;
    const services: string[] = [];
    for (let key = heap.peekKey(); key !== undefined && key <= now; key = heap.peekKey()) {
      const service = heap.pop() as BrokerService;
      service.expiryScheduled = false;
      let count = 0;
      // The heap's own sum, so that a service popped as due always loses its head.
      const ttl = this.#requestTtlMs;
      for (
        let head = service.queue.peek();
        head !== undefined && head.arrivedAt + ttl <= now;
        head = service.queue.peek()
      ) {
        const dropped = this.dequeue(service);
        if (dropped?.span !== undefined) failSpanAs(dropped.span, 'expired', 'waited longer than requestTtlMs');
        count++;
      }
      if (count > 0) {
        expired += count;
        services.push(service.key);
      }
      this.#scheduleExpiry(service);
      this.dropIfUnused(service);
    }
    if (expired > 0) {
      // One line per tick, however many services: 1,000 services must not mean 1,000 lines.
      this.#ctx.stats.expiredRequests += expired;
      this.#ctx.log.warn(
        {
          expired,
          services: services.slice(0, 10),
          serviceCount: services.length,
          requestTtlMs: this.#ctx.options.requestTtlMs,
        },
        'queued requests expired before a worker took them',
      );
    }
  }

  /** Forget everything (on close). */
  clear(): void {
    this.#services.clear();
    this.#lastService = undefined;
    this.#queuedBytes = 0;
    this.#clients.clear();
    this.#lastClient = undefined;
    this.#lastShare = undefined;
  }

  /**
   * The share of `client` in the queued bytes (a new one at 0 bytes, not yet in the table, for a
   * client with nothing queued); without a lookup when the client is the one before (compared
   * byte by byte), and its key made once per share.
   */
  #share(client: Buffer): ClientShare {
    const last = this.#lastClient;
    const cached = this.#lastShare;
    if (last !== undefined && cached !== undefined && frameEquals(last, client)) return cached;
    const key = client.toString('latin1');
    const share = this.#clients.get(key) ?? { key, bytes: 0 };
    this.#lastClient = client;
    this.#lastShare = share;
    return share;
  }

  #scheduleExpiry(service: BrokerService): void {
    const head = service.queue.peek();
    if (head === undefined || service.expiryScheduled) return;
    service.expiryScheduled = true;
    this.#expiry.push(head.arrivedAt + this.#requestTtlMs, service);
  }

  /** Count a request in the queued bytes, overall and in its client's `share`. */
  #charge(request: PendingRequest, share: ClientShare): void {
    this.#queuedBytes += request.bytes;
    if (share.bytes === 0) this.#clients.set(share.key, share);
    share.bytes += request.bytes;
    request.share = share;
  }

  /** Count a request out of the queued bytes; a client share back at 0 leaves the table. */
  #discharge(request: PendingRequest): void {
    this.#queuedBytes -= request.bytes;
    const share = request.share;
    if (share === undefined) return;
    request.share = undefined;
    share.bytes -= request.bytes;
    if (share.bytes <= 0) {
      share.bytes = 0;
      this.#clients.delete(share.key);
    }
  }
}

/** What a queued request costs: its frames plus a fixed overhead for the record and the queue slot. */
export function requestBytes(client: Buffer, body: readonly Buffer[]): number {
  let bytes = 96 + client.length;
  for (const frame of body) bytes += frame.length + 16;
  return bytes;
}
