/**
 * The dispatcher's in-memory index of pending requests and its scheduling rules, with no I/O:
 * which request to send next, and when to look again. Rebuilt from the store at start.
 *
 * - One queue per target service; `take()` picks, among the services that may send, the one with
 *   fewest requests in flight, round-robin between equals, so one busy, slow or dead service
 *   cannot starve the others of concurrency slots (per-service fairness).
 * - Within a service, FIFO. A request whose sent attempt failed waits for its own backoff
 *   (`retryDelay(attempts)`) in a min-heap, so a "poison" request cannot block the queue.
 * - Each service has a `ServiceCircuit`: after a failure nothing goes to that service until its
 *   backoff passes, then exactly one probe.
 * - Closed requests are removed lazily: `remove(uuid)` forgets the job and `take()` skips it.
 *
 * Costs: `add`, `remove`, `succeeded` O(1); `failed` O(log n); `take` O(services) worst case.
 */
import { type Logger, type RetryDelay } from '@zpatterns/core';
import { Deque, MinHeap, persistentRetryDelay } from '@zpatterns/core/internal';
import { ServiceCircuit } from './service-circuit.js';

/** One pending request as the dispatcher tracks it. */
export interface Job {
  readonly uuid: string;
  /** Service name as bytes (names are opaque frames). */
  readonly service: Buffer;
  /** The service's key (its name as latin1), so that settling a job converts no name. */
  readonly key: string;
  /** Sent attempts that failed so far. */
  attempts: number;
  /** Not to be sent before this time. */
  notBefore: number;
  inFlight: boolean;
}

/** What `take()` hands out. */
export interface Taken {
  readonly job: Job;
  /** The service's circuit is testing the water: check it has a worker first. */
  readonly probe: boolean;
}

export interface DispatchQueueOptions {
  /** Delay before re-sending a request after its attempt number `n` failed. */
  retryDelay: RetryDelay;
  /** Delay before probing a service again after its `n`-th consecutive failure. */
  serviceRetryDelay: RetryDelay;
  /**
   * Services without work whose state (circuit) is remembered, most recently idle first; older
   * ones are forgotten, so the map stays bounded. A forgotten service is probed again on its next
   * request. @default 1024
   */
  maxIdleServices?: number;
  logger?: Logger | undefined;
}

class ServiceQueue {
  readonly key: string;
  readonly ready = new Deque<Job>();
  readonly delayed = new MinHeap<Job>();
  /** The service's name, one Buffer shared by all its jobs (not one per stored row). */
  readonly service: Buffer;
  readonly circuit: ServiceCircuit;
  inRotation = false;
  inFlight = 0;
  /** Requests of this service known to the queue (queued or in flight). */
  known = 0;

  constructor(key: string, circuit: ServiceCircuit) {
    this.key = key;
    this.service = Buffer.from(key, 'latin1');
    this.circuit = circuit;
  }

  get queued(): number {
    return this.ready.length + this.delayed.length;
  }
}

export class DispatchQueue {
  readonly #jobs = new Map<string, Job>();
  readonly #services = new Map<string, ServiceQueue>();
  /**
   * Services that went idle, least recently first (a subset of `#services`). Kept lazily: a
   * service that gets work again stays listed (the trim skips it), and one that goes idle again
   * right after it did (the usual case: one service, one request at a time) is not moved, so a
   * request costs no map operation here.
   */
  readonly #idle = new Map<string, ServiceQueue>();
  /** The service last listed in `#idle` (at its end). */
  #lastIdle: ServiceQueue | undefined;
  /** Services with queued jobs, in round-robin order. */
  #rotation: ServiceQueue[] = [];
  #cursor = 0;
  #inFlight = 0;
  readonly #o: DispatchQueueOptions;

  constructor(options: DispatchQueueOptions) {
    this.#o = options;
  }

  /** Requests known and not finished (queued or in flight). */
  get size(): number {
    return this.#jobs.size;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  has(uuid: string): boolean {
    return this.#jobs.has(uuid);
  }

  /** Every known job, queued or in flight (a snapshot). */
  jobs(): Job[] {
    return [...this.#jobs.values()];
  }

  /** The circuit of a service (for monitoring and tests). */
  circuit(service: Buffer): ServiceCircuit | undefined {
    return this.#services.get(service.toString('latin1'))?.circuit;
  }

  /**
   * Services that failed and may not be sent to now (in backoff, or a probe after a failure in
   * flight): a lease store should not claim their requests meanwhile, so that they hold no room.
   */
  blockedServices(now: number): Buffer[] {
    const out: Buffer[] = [];
    for (const queue of this.#services.values()) {
      const s = queue.circuit.current;
      if ((s.state === 'backoff' && s.failures > 0 && s.until > now) || (s.state === 'probing' && s.failures > 0))
        out.push(Buffer.from(queue.key, 'latin1'));
    }
    return out;
  }

  /** Requests known here (queued or in flight) by service (latin1). */
  heldByService(): ReadonlyMap<string, number> {
    const held = new Map<string, number>();
    for (const queue of this.#services.values()) if (queue.known > 0) held.set(queue.key, queue.known);
    return held;
  }

  /**
   * Requests of a service (its name as latin1) known here (queued or in flight). A service with
   * any is never forgotten, so its count is on its queue.
   */
  pendingOf(key: string): number {
    return this.#services.get(key)?.known ?? 0;
  }

  /**
   * Queue a new (or recovered) request. Adding a known UUID again is a no-op. `key` is the
   * service's name as latin1, when the caller has it.
   */
  add(uuid: string, service: Buffer, now: number, key = service.toString('latin1')): void {
    if (this.#jobs.has(uuid)) return;
    const queue = this.#queueOf(key);
    const job: Job = { uuid, service: queue.service, key: queue.key, attempts: 0, notBefore: now, inFlight: false };
    this.#jobs.set(uuid, job);
    queue.known++;
    queue.ready.push(job);
    this.#enterRotation(queue);
  }

  /**
   * Forget a request (closed by the client). A dispatch in flight finishes but is not retried; if
   * it was its service's probe, the service may probe again with another request.
   */
  remove(uuid: string): void {
    const job = this.#jobs.get(uuid);
    if (job === undefined) return;
    this.#jobs.delete(uuid);
    this.#knownLess(job.key);
    if (job.inFlight) this.#services.get(job.key)?.circuit.released(uuid);
    this.#settle(job);
  }

  /**
   * The next request to send, from the service with fewest requests in flight among those whose
   * circuit admits one (round-robin between equals), or `undefined` when nothing may be sent now.
   */
  take(now: number): Taken | undefined {
    const rotation = this.#rotation;
    let best: ServiceQueue | undefined;
    let bestAt = 0;
    for (let scanned = 0; scanned < rotation.length;) {
      if (this.#cursor >= rotation.length) this.#cursor = 0;
      const queue = rotation[this.#cursor] as ServiceQueue;
      const sendable = this.#hasNext(queue, now);
      if (queue.queued === 0 && !sendable) {
        // Nothing left in this service: drop it from the rotation (the cursor now points at the next).
        rotation.splice(this.#cursor, 1);
        queue.inRotation = false;
        this.#forgetIfIdle(queue);
        if (best !== undefined && bestAt > this.#cursor) bestAt--;
        continue;
      }
      if (sendable && (best === undefined || queue.inFlight < best.inFlight)) {
        best = queue;
        bestAt = this.#cursor;
        if (queue.inFlight === 0) break;
      }
      this.#cursor++;
      scanned++;
    }
    if (best === undefined) return undefined;
    // Round-robin: the next take starts after the service served now.
    this.#cursor = bestAt + 1;
    const queue = best;
    const job = queue.ready.shift() as Job;
    const admitted = queue.circuit.admits(now) as { probe: boolean };
    job.inFlight = true;
    this.#inFlight++;
    queue.inFlight++;
    if (admitted.probe) queue.circuit.probing(job.uuid);
    return { job, probe: admitted.probe };
  }

  /**
   * Whether `queue` has a job to send now (its circuit admits one): due delayed jobs move to
   * `ready`, forgotten ones are dropped from its head, and the head of `ready` is the job.
   */
  #hasNext(queue: ServiceQueue, now: number): boolean {
    while (queue.delayed.length > 0 && (queue.delayed.peekKey() as number) <= now) {
      const job = queue.delayed.pop() as Job;
      if (this.#jobs.get(job.uuid) === job) queue.ready.push(job);
    }
    if (queue.circuit.admits(now) === undefined) return false;
    for (let job = queue.ready.peek(); job !== undefined; job = queue.ready.peek()) {
      if (this.#jobs.get(job.uuid) === job) return true;
      queue.ready.shift();
    }
    return false;
  }

  /** The request got its reply (recorded durably by the caller). */
  succeeded(job: Job): void {
    this.#services.get(job.key)?.circuit.succeeded();
    if (this.#jobs.get(job.uuid) !== job) return;
    this.#jobs.delete(job.uuid);
    this.#knownLess(job.key);
    this.#settle(job);
  }

  /** One known request of the service `key` fewer. */
  #knownLess(key: string): void {
    const queue = this.#services.get(key);
    if (queue !== undefined) queue.known--;
  }

  /**
   * The attempt failed. `sent: false` means the request never reached a worker (the service had
   * none): it goes back to the head of its queue without a penalty of its own. `sent: true`
   * (timeout) counts an attempt and delays this request by `retryDelay(attempts)`.
   */
  failed(job: Job, now: number, sent: boolean): void {
    this.#services.get(job.key)?.circuit.failed(job.uuid, now);
    if (this.#jobs.get(job.uuid) !== job) return;
    const queue = this.#queueOf(job.key);
    this.#settle(job, false);
    if (!sent) {
      queue.ready.unshift(job);
    } else {
      job.attempts++;
      job.notBefore = now + persistentRetryDelay(this.#o.retryDelay, job.attempts, 1000);
      queue.delayed.push(job.notBefore, job);
    }
    this.#enterRotation(queue);
  }

  /** The attempt was abandoned (shutdown): requeue at the head with no penalty. */
  released(job: Job): void {
    this.#services.get(job.key)?.circuit.released(job.uuid);
    if (this.#jobs.get(job.uuid) !== job) return;
    const queue = this.#queueOf(job.key);
    this.#settle(job, false);
    queue.ready.unshift(job);
    this.#enterRotation(queue);
  }

  /**
   * Milliseconds until `take()` may return something it cannot now (a backoff or a request delay
   * ends), or `undefined` when only new requests or replies can change that.
   */
  wakeInMs(now: number): number | undefined {
    let earliest = Number.POSITIVE_INFINITY;
    for (const queue of this.#rotation) {
      const open = queue.circuit.openAt();
      if (open === undefined) continue;
      let due = Number.POSITIVE_INFINITY;
      if (queue.ready.length > 0) due = now;
      const delayed = queue.delayed.peekKey();
      if (delayed !== undefined) due = Math.min(due, delayed);
      earliest = Math.min(earliest, Math.max(open, due));
    }
    return earliest === Number.POSITIVE_INFINITY ? undefined : Math.max(0, earliest - now);
  }

  #settle(job: Job, forget = true): void {
    if (!job.inFlight) return;
    job.inFlight = false;
    this.#inFlight--;
    const queue = this.#services.get(job.key);
    if (queue === undefined) return;
    queue.inFlight--;
    if (forget) this.#forgetIfIdle(queue);
  }

  /**
   * A service with nothing queued or in flight joins the idle list: its circuit is kept (a busy
   * service that drains for a moment is not probed again), and the oldest idle services beyond
   * `maxIdleServices` are forgotten, so the map does not grow without bound.
   */
  #forgetIfIdle(queue: ServiceQueue): void {
    if (queue.inRotation || queue.inFlight > 0 || queue.queued > 0) return;
    // Already the most recently idle (and still listed): nothing moves.
    if (queue === this.#lastIdle) return;
    this.#idle.delete(queue.key);
    this.#idle.set(queue.key, queue);
    this.#lastIdle = queue;
    const max = this.#o.maxIdleServices ?? 1024;
    if (this.#idle.size <= max) return;
    for (const [key, listed] of this.#idle) {
      if (this.#idle.size <= max) break;
      this.#idle.delete(key);
      if (listed === this.#lastIdle) this.#lastIdle = undefined;
      // Busy again since it was listed: not idle, so not forgotten (listed again once idle).
      if (listed.inRotation || listed.inFlight > 0 || listed.queued > 0) continue;
      this.#services.delete(key);
    }
  }

  /** Services tracked now (with work, or idle and remembered). */
  get services(): number {
    return this.#services.size;
  }

  #queueOf(key: string): ServiceQueue {
    let queue = this.#services.get(key);
    if (queue === undefined) {
      queue = new ServiceQueue(key, new ServiceCircuit(key, this.#o.serviceRetryDelay, this.#o.logger));
      this.#services.set(key, queue);
    }
    return queue;
  }

  #enterRotation(queue: ServiceQueue): void {
    if (queue.inRotation) return;
    queue.inRotation = true;
    this.#rotation.push(queue);
  }
}
