/**
 * The broker's worker registry: which workers are registered (by routing id), when each was last
 * heard from, and the announcements of their coming and going (`worker-ready`, `worker-removed`,
 * `service-available`, `service-unavailable`).
 *
 * Liveness costs no scan: a `LivenessList` threaded through the worker records keeps them in order
 * of their last message, so the purge walks from the head and stops at the first live one (O(1) per
 * expired worker), and a message from a worker is a few field writes. What becomes of the
 * request a removed worker held is the dispatcher's business: `remove()` hands it back.
 */
import type { BrokerContext } from './broker-context.js';
import type { BrokerService } from './broker-service.js';
import type { WorkerRemovedReason } from '@zpatterns/core';
import { LivenessList } from './broker-liveness.js';
import { BrokerWorker, type PendingRequest } from './broker-worker.js';
import type { MdpVersion } from './codec.js';

export type Worker = BrokerWorker<BrokerService>;

export class WorkerRegistry {
  readonly #ctx: BrokerContext;
  readonly #workers = new Map<string, Worker>();
  /**
   * The same workers by `routeKey(identity)`: a number for the identities libzmq generates, so the
   * worker a message came from is found without making its hex string (a native call per message).
   */
  readonly #byRoute = new Map<number | string, Worker>();
  /** Workers in order of their last message: the head expires first. */
  readonly #liveness: LivenessList<Worker>;

  constructor(ctx: BrokerContext) {
    this.#ctx = ctx;
    this.#liveness = new LivenessList(ctx.options.heartbeatIntervalMs * ctx.options.liveness);
  }

  /** Workers registered, idle or busy. */
  get size(): number {
    return this.#workers.size;
  }

  values(): IterableIterator<Worker> {
    return this.#workers.values();
  }

  /** The registered worker whose routing id is `id` (hex). */
  get(id: string): Worker | undefined {
    return this.#workers.get(id);
  }

  /** The registered worker whose routing identity is `identity` (a message's first frame). */
  find(identity: Buffer): Worker | undefined {
    return this.#byRoute.get(routeKey(identity));
  }

  /** Take on a worker that sent READY for `service`; the caller then gives it work or parks it. */
  register(version: MdpVersion, sender: Buffer, id: string, service: BrokerService): Worker {
    const ctx = this.#ctx;
    const worker: Worker = new BrokerWorker(id, Buffer.from(sender), version, service);
    this.#workers.set(id, worker);
    this.#byRoute.set(routeKey(worker.identity), worker);
    this.#liveness.touch(worker, ctx.clock.now());
    service.workers++;
    ctx.stats.workersRegistered++;
    ctx.log.info({ worker: id, service: service.key, version }, 'worker ready');
    ctx.emit({ type: 'worker-ready', worker: id, service: service.key });
    if (service.workers === 1) ctx.emit({ type: 'service-available', service: service.key });
    return worker;
  }

  /** A sign of life from `worker`: its expiry moves to `now + heartbeatIntervalMs * liveness`. */
  touch(worker: Worker, now: number): void {
    this.#liveness.touch(worker, now);
  }

  /** Whether `worker` has been heard from within its expiry. */
  isLive(worker: Worker, now: number): boolean {
    return worker.listed && worker.expiresAt > now;
  }

  /** Hand every worker silent past its expiry to `expire` (which must remove it). */
  purge(now: number, expire: (worker: Worker) => void): void {
    this.#liveness.purge(now, expire);
  }

  /** Send HEARTBEAT to every registered worker. */
  heartbeat(): void {
    const ctx = this.#ctx;
    for (const worker of this.#workers.values()) ctx.toWorker(worker.heartbeat);
    ctx.stats.heartbeatsSent += this.#workers.size;
  }

  /** Send DISCONNECT to every registered worker (on close, so each re-registers elsewhere at once). */
  disconnectAll(): void {
    const ctx = this.#ctx;
    for (const worker of this.#workers.values()) ctx.toWorker(worker.disconnect);
    ctx.stats.disconnectsSent += this.#workers.size;
  }

  /**
   * Take `worker` out of every table and announce it; a worker that may still be listening
   * (`silent`, `error`) is told DISCONNECT. Returns the request it held, which the caller requeues
   * or drops. Idempotent: a worker removed already returns `undefined`.
   */
  remove(worker: Worker, reason: WorkerRemovedReason): PendingRequest | undefined {
    if (worker.removed) return undefined;
    const ctx = this.#ctx;
    const request = worker.request;
    const service = worker.service;
    this.#workers.delete(worker.id);
    this.#byRoute.delete(routeKey(worker.identity));
    this.#liveness.delete(worker);
    service.idle.delete(worker.id);
    service.workers--;
    worker.transition({ state: 'removed', reason }, ctx.debugLog);
    if (ctx.isOpen()) {
      const busy = request !== undefined;
      if (reason === 'silent') {
        const silentMs = ctx.options.heartbeatIntervalMs * ctx.options.liveness;
        ctx.stats.expiredWorkers++;
        ctx.workerWarnings.warn({ worker: worker.id, service: service.key, busy, silentMs }, 'worker expired');
      }
      ctx.emit({ type: 'worker-removed', worker: worker.id, reason, busy, service: service.key });
      if (service.workers === 0) ctx.emit({ type: 'service-unavailable', service: service.key });
      if (reason === 'silent' || reason === 'error') {
        // A worker too slow, or in violation, may still be there: DISCONNECT makes it re-register.
        ctx.stats.disconnectsSent++;
        ctx.toWorker(worker.disconnect);
      }
    }
    ctx.debugLog?.debug({ worker: worker.id, service: service.key, reason }, 'worker removed');
    return request;
  }

  /** Forget every worker (on close). */
  clear(): void {
    this.#liveness.clear();
    this.#workers.clear();
    this.#byRoute.clear();
  }
}

/**
 * A map key for a ROUTER identity: libzmq's own identities (5 bytes, a zero byte and a 32-bit
 * counter; an application-set identity may not start with a zero byte) as that counter, computed
 * in JavaScript; any other identity as its hex string.
 */
export function routeKey(identity: Buffer): number | string {
  if (identity.length === 5 && identity[0] === 0) {
    return (
      (identity[1] as number) * 0x1000000 +
      (((identity[2] as number) << 16) | ((identity[3] as number) << 8) | (identity[4] as number))
    );
  }
  return identity.toString('hex');
}
