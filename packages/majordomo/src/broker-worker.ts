/**
 * The broker's view of one worker, and its state machine:
 *
 *   (READY) -> idle <-> busy -> removed
 *                \____________/
 *
 * `idle`: registered, waiting in its service's LRU idle set. `busy`: holding exactly one request
 * (MDP allows one at a time). `removed`: expired, disconnected or in violation; the record is out of
 * every table and kept only by stale references. Every change goes through `transition()` (or its
 * allocation-free forms `busy()` and `idle()`).
 */
import type { Frames, Logger, WorkerRemovedReason } from '@zpatterns/core';
import type { TraceSpan } from '@zpatterns/core/internal';
import type { MdpVersion } from './codec.js';
import { WORKER_DISCONNECT, WORKER_HEARTBEAT } from './codec.js';

/** A client's share of the queued bytes (`maxQueuedBytesPerClient`): one per client with requests queued. */
export interface ClientShare {
  /** The client's routing id as latin1: its key in the broker's table of shares. */
  readonly key: string;
  /** Bytes of its queued requests. */
  bytes: number;
}

/** A client request held by the broker: queued in a service, or in flight on a worker. */
export interface PendingRequest {
  /** The client's ROUTER identity. */
  readonly client: Buffer;
  /** The version the client spoke: the reply goes back in it. */
  readonly version: MdpVersion;
  readonly body: Buffer[];
  /** When the broker read it (clock ms): the start of the broker's latency; + `requestTtlMs`, its deadline. */
  readonly arrivedAt: number;
  /** What it costs while queued, counted against `maxQueuedBytes`. */
  readonly bytes: number;
  /** While queued: its client's share of the queued bytes; `undefined` otherwise. */
  share: ClientShare | undefined;
  /** With OpenTelemetry installed: the broker's span of this request (arrival to final reply). */
  readonly span: TraceSpan | undefined;
}

/**
 * The record of one request, made per request: a class, so that every record has one shape and
 * holds only what a queued request needs (its deadline is `arrivedAt + requestTtlMs`).
 */
export class BrokerRequest implements PendingRequest {
  share: ClientShare | undefined = undefined;

  constructor(
    readonly client: Buffer,
    readonly version: MdpVersion,
    readonly body: Buffer[],
    readonly arrivedAt: number,
    readonly bytes: number,
    readonly span: TraceSpan | undefined,
  ) {}
}

export type BrokerWorkerState =
  | { readonly state: 'idle' }
  | { readonly state: 'busy'; readonly request: PendingRequest }
  | { readonly state: 'removed'; readonly reason: WorkerRemovedReason };

/** The part of a service a worker needs to know. */
export interface WorkerService {
  readonly name: Buffer;
  readonly key: string;
}

const IDLE: BrokerWorkerState = { state: 'idle' };

export class BrokerWorker<TService extends WorkerService = WorkerService> {
  /** Hex of the identity: the key in the broker's tables. */
  readonly id: string;
  readonly identity: Buffer;
  readonly version: MdpVersion;
  readonly service: TService;
  /** `[identity, ...HEARTBEAT]`, built once. */
  readonly heartbeat: Frames;
  /** `[identity, ...DISCONNECT]`, built once. */
  readonly disconnect: Frames;
  /**
   * The state, kept as its parts so that the per-request moves (`busy()`, `idle()`) allocate
   * nothing; `state` builds the tagged object on demand.
   */
  #phase: BrokerWorkerState['state'] = 'idle';
  #request: PendingRequest | undefined;
  #reason: WorkerRemovedReason | undefined;
  /** Clock time it last became idle, and last took a request; final replies sent (for `Broker.snapshot()`). */
  idleSince = 0;
  busySince = 0;
  served = 0;
  /** The registry's liveness list (`LivenessList`): expiry and neighbours, kept in the record itself. */
  expiresAt = 0;
  livePrev: BrokerWorker<TService> | undefined = undefined;
  liveNext: BrokerWorker<TService> | undefined = undefined;
  listed = false;

  constructor(id: string, identity: Buffer, version: MdpVersion, service: TService) {
    this.id = id;
    this.identity = identity;
    this.version = version;
    this.service = service;
    this.heartbeat = [identity, ...WORKER_HEARTBEAT[version]];
    this.disconnect = [identity, ...WORKER_DISCONNECT[version]];
  }

  get state(): BrokerWorkerState {
    switch (this.#phase) {
      case 'idle':
        return IDLE;
      case 'busy':
        return { state: 'busy', request: this.#request as PendingRequest };
      case 'removed':
        return { state: 'removed', reason: this.#reason as WorkerRemovedReason };
    }
  }

  /** Whether the worker is out of every table (expired, disconnected, in violation). */
  get removed(): boolean {
    return this.#phase === 'removed';
  }

  /** The request in hand, when busy. */
  get request(): PendingRequest | undefined {
    return this.#request;
  }

  /** The single place the state changes; logs from->to at debug when `log` is given. */
  transition(next: BrokerWorkerState, log: Logger | undefined): void {
    switch (next.state) {
      case 'idle':
        this.idle(log);
        return;
      case 'busy':
        this.busy(next.request, log);
        return;
      case 'removed':
        this.#move('removed', undefined, next.reason, log);
        return;
    }
  }

  /** `transition({ state: 'busy', request })` without the state object (once per request). */
  busy(request: PendingRequest, log: Logger | undefined): void {
    this.#move('busy', request, undefined, log);
  }

  /** `transition({ state: 'idle' })`. */
  idle(log: Logger | undefined): void {
    this.#move('idle', undefined, undefined, log);
  }

  #move(
    to: BrokerWorkerState['state'],
    request: PendingRequest | undefined,
    reason: WorkerRemovedReason | undefined,
    log: Logger | undefined,
  ): void {
    const from = this.#phase;
    if (from === 'removed') return;
    this.#phase = to;
    this.#request = request;
    this.#reason = reason;
    if (log !== undefined) {
      log.debug({ worker: this.id, service: this.service.key, from, to }, 'worker state');
    }
  }
}
