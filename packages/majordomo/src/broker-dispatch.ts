/**
 * The broker's dispatch: a client request goes to the longest-idle live worker of its service, or
 * waits in the service's queue; a worker's FINAL reply goes back to the client and frees the worker
 * for the next queued request. When a worker is removed, the request it held is requeued at the
 * head of its queue (idempotent services, or a REQUEST that never left the broker) or dropped.
 *
 * Invariant: a service never has idle workers and queued requests at the same time. The hot path
 * never awaits: Map lookups, O(1) queue and idle-set operations and one `post()` per message.
 */
import { type Frames } from '@zpatterns/core';
import {
  frameEquals,
  failSpanAs,
  SpanKinds,
  startSpan,
  tracingAvailable,
  type TraceSpan,
} from '@zpatterns/core/internal';
import type { BrokerContext } from './broker-context.js';
import { requestBytes, type ServiceQueues } from './broker-queues.js';
import type { Worker, WorkerRegistry } from './broker-registry.js';
import type { BrokerService } from './broker-service.js';
import type { WorkerRemovedReason } from '@zpatterns/core';
import { BrokerRequest, type PendingRequest } from './broker-worker.js';
import { encodeClientReply, encodeWorkerRequest, type MdpVersion } from './codec.js';

export class Dispatcher {
  readonly #ctx: BrokerContext;
  readonly #queues: ServiceQueues;
  readonly #registry: WorkerRegistry;

  constructor(ctx: BrokerContext, queues: ServiceQueues, registry: WorkerRegistry) {
    this.#ctx = ctx;
    this.#queues = queues;
    this.#registry = registry;
  }

  /** A client request for a (non-MMI) service, read at `now`: to an idle worker at once, else queued. */
  request(version: MdpVersion, client: Buffer, name: Buffer, body: Buffer[], now: number): void {
    const ctx = this.#ctx;
    const service = this.#queues.require(name);
    service.requests++;
    ctx.observer.request?.(service.key);
    const request = new BrokerRequest(
      client,
      version,
      body,
      now,
      requestBytes(client, body),
      tracingAvailable ? recordingSpan(service) : undefined,
    );
    if (service.idle.size > 0) {
      const worker = this.#takeIdle(service, now);
      if (worker !== undefined) {
        this.#send(worker, request, now);
        return;
      }
      // Every idle worker had expired; removing the last one may have removed the service too.
      this.#queues.enqueue(this.#queues.require(name), request);
      return;
    }
    this.#queues.enqueue(service, request);
  }

  /** A READY was accepted: give the new worker the oldest queued request, or park it. */
  registered(worker: Worker): void {
    this.#idle(worker, this.#ctx.clock.now());
  }

  /** A REPLY (PARTIAL or FINAL) from `worker` for `client`, read at `now`. */
  reply(worker: Worker, client: Buffer, body: Buffer[], final: boolean, now: number): void {
    const ctx = this.#ctx;
    const request = worker.request;
    if (request === undefined) {
      this.violation(worker, 'reply from a worker that holds no request');
      return;
    }
    if (!frameEquals(client, request.client)) {
      this.violation(worker, 'reply for a client other than the request in hand');
      return;
    }
    if (!final) {
      if (request.version === '0.2') {
        ctx.stats.partials++;
        ctx.toClient(encodeClientReply('0.2', request.client, worker.service.name, body, false));
      } else {
        ctx.stats.partialsDropped++;
      }
      return;
    }
    ctx.stats.replies++;
    worker.served++;
    request.span?.end();
    ctx.observer.reply?.(worker.service.key, now - request.arrivedAt);
    ctx.toClient(encodeClientReply(request.version, request.client, worker.service.name, body, true));
    this.#idle(worker, now);
  }

  /** `worker` sent a valid command it should not have sent now: it is removed with DISCONNECT. */
  violation(worker: Worker, detail: string): void {
    this.#ctx.stats.protocolErrors++;
    this.#ctx.warnings.warn(
      { worker: worker.id, service: worker.service.key, reason: detail },
      'worker protocol error, DISCONNECT sent',
    );
    this.remove(worker, 'error');
  }

  /**
   * Remove `worker`. Its request in hand, if any, is requeued at the head of the queue when the
   * service is idempotent, and dropped with a log line otherwise (the client retries).
   */
  remove(worker: Worker, reason: WorkerRemovedReason): void {
    const service = worker.service;
    const request = this.#registry.remove(worker, reason);
    if (request !== undefined) {
      if (service.idempotent) this.#requeue(worker, service, request, reason);
      else this.#lose(worker, service, request, reason);
    }
    this.#queues.dropIfUnused(service);
  }

  /** Remove every worker silent past its expiry. */
  purge(now: number): void {
    this.#registry.purge(now, (worker) => {
      this.remove(worker, 'silent');
    });
  }

  /**
   * libzmq refused a message (`mandatory` ROUTER, `sendTimeout` 0): the peer is gone (EHOSTUNREACH)
   * or at its high-water mark (EAGAIN).
   */
  sendFailed(err: Error, message: Frames): void {
    const ctx = this.#ctx;
    ctx.stats.sendFailures++;
    const code = (err as { code?: unknown }).code;
    const identity = message[0];
    const peer = identity === undefined ? undefined : Buffer.from(identity as Uint8Array).toString('hex');
    const worker = peer === undefined || !ctx.isOpen() ? undefined : this.#registry.get(peer);
    // The failed message is the REQUEST the worker holds (the very client frame is in it): the
    // worker never got it. Requeue it at the head for the next worker, whatever the service, and
    // remove the worker: gone (EHOSTUNREACH) or not reading (EAGAIN), it must not stay busy.
    const request = worker?.request;
    if (worker !== undefined && request !== undefined && message.includes(request.client)) {
      if (code === 'EHOSTUNREACH') ctx.stats.unreachableWorkers++;
      ctx.log.info(
        { worker: worker.id, service: worker.service.key, code },
        'request could not be sent to its worker: requeued, worker removed',
      );
      const reason = code === 'EHOSTUNREACH' ? 'unreachable' : 'error';
      this.#registry.remove(worker, reason);
      ctx.stats.requeuedUnsent++;
      this.#requeue(worker, worker.service, request, reason);
      this.#queues.dropIfUnused(worker.service);
      return;
    }
    if (code !== 'EHOSTUNREACH') {
      // EAGAIN: the peer is at its high-water mark and the message is lost; worth a warning.
      ctx.warnings.warn({ peer, code }, 'send failed, message dropped');
      return;
    }
    // EHOSTUNREACH: the peer has disconnected, which is normal (a client that gave up, a worker
    // that died). A worker is removed at once instead of after its liveness timeout.
    if (worker === undefined) {
      ctx.debugLog?.debug({ peer }, 'peer gone, message dropped');
      return;
    }
    ctx.stats.unreachableWorkers++;
    ctx.log.info({ worker: worker.id, service: worker.service.key }, 'worker disconnected, removed');
    this.remove(worker, 'unreachable');
  }

  /** The worker has nothing in hand (at `now`): give it the oldest queued request, or park it as idle. */
  #idle(worker: Worker, now: number): void {
    const service = worker.service;
    const next = this.#queues.dequeue(service);
    if (next !== undefined) {
      this.#send(worker, next, now);
      return;
    }
    worker.idle(this.#ctx.debugLog);
    worker.idleSince = now;
    service.idle.set(worker.id, worker);
  }

  /** The longest-idle live worker of `service`, taken out of the idle set; dead ones are removed. */
  #takeIdle(service: BrokerService, now: number): Worker | undefined {
    for (;;) {
      const worker = service.popIdle();
      if (worker === undefined) return undefined;
      if (this.#registry.isLive(worker, now)) return worker;
      this.remove(worker, 'silent');
    }
  }

  #send(worker: Worker, request: PendingRequest, now: number): void {
    const ctx = this.#ctx;
    worker.busy(request, ctx.debugLog);
    worker.busySince = now;
    // The queue time, as an event on the request's span: waiting for a worker ends here.
    request.span?.addEvent('dispatched', {
      'majordomo.queue_time_ms': worker.busySince - request.arrivedAt,
      'majordomo.worker': worker.id,
    });
    ctx.stats.dispatched++;
    ctx.toWorker(encodeWorkerRequest(worker.version, worker.identity, request.client, request.body));
  }

  /** Put a removed worker's request back at the head of its queue and hand out what can go. */
  #requeue(worker: Worker, service: BrokerService, request: PendingRequest, reason: WorkerRemovedReason): void {
    this.#ctx.stats.requeued++;
    this.#queues.requeue(service, request);
    this.#ctx.log.info({ worker: worker.id, service: service.key, reason }, 'in-flight request requeued');
    const now = this.#ctx.clock.now();
    while (service.queue.length > 0 && service.idle.size > 0) {
      const idle = this.#takeIdle(service, now);
      const next = idle === undefined ? undefined : this.#queues.dequeue(service);
      if (idle === undefined || next === undefined) return;
      this.#send(idle, next, now);
    }
  }

  #lose(worker: Worker, service: BrokerService, request: PendingRequest, reason: WorkerRemovedReason): void {
    this.#ctx.stats.droppedRequests++;
    this.#ctx.stats.lostInFlight++;
    if (request.span !== undefined) failSpanAs(request.span, 'lost', `lost with its worker: ${reason}`);
    this.#ctx.workerWarnings.warn(
      { worker: worker.id, service: service.key, client: request.client.toString('hex'), reason },
      'in-flight request lost with its worker (service not idempotent; the client retries)',
    );
  }
}

/**
 * The broker's span of a new request, or `undefined` when the tracer does not record it (no
 * provider registered: OpenTelemetry's no-op tracer), so that nothing more is done for it per
 * request. The broker's spans are never anyone's parent, so a span that records nothing is of no
 * use. The attributes are built once per service.
 */
function recordingSpan(service: BrokerService): TraceSpan | undefined {
  const span = startSpan('@zpatterns/majordomo', service.key, SpanKinds.internal, service.spanAttributes);
  return span !== undefined && (span as { isRecording?: () => boolean }).isRecording?.() !== false ? span : undefined;
}
