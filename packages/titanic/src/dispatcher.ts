/**
 * The dispatcher: forwards stored requests to their services through the broker, as an MDP
 * client, and records the replies durably.
 *
 *   store ──pending()──> DispatchQueue ──take()──> request(service, body, retries 0) ──> broker
 *                            ^   │                         │ reply
 *        add() after commit ─┘   └── failed(): backoff     └──> GroupCommitter: reply ──> succeeded()
 *
 * - Up to `concurrency` requests in flight at once, each on its own client socket.
 * - The first contact with a service is a probe (one request in flight). A service whose request
 *   failed gets no traffic until its backoff passes; then one probe again. Each probe is
 *   preceded by an `mmi.service` check (a "404" means no worker: nothing is sent, so the broker
 *   does not queue a request that would later run twice). The check is only an optimisation; it
 *   is racy (the book says so too), and any failure is just retried later.
 * - Delivery is at-least-once: a request whose reply was lost, or that timed out while a slow
 *   worker still ran it, is sent again.
 *
 * With a store that has leases (PostgreSQL, several instances on one database) the in-memory
 * queue holds only what this instance has claimed:
 *
 *   store ──claim(limit = concurrency - held, lease, held by service)──> DispatchQueue ──> ... as above
 *     │    (fair: the services held fewest of here first, the oldest request of each first)
 *     ^  └── every claimIntervalMs, and at once after a local submission or a finished dispatch
 *     ├──── renew(held) every leaseMs / 3 (queued and in flight): a long worker call keeps its lease
 *     └──── release(uuid, backoff) after a failure: any instance retries it once the backoff ends
 *
 * The leases themselves (claim loop, renewals, hand-backs) live in `LeaseKeeper`. A request is
 * dispatched only while this instance's lease on it holds by a conservative local deadline (sent
 * time of the claim/renew + leaseMs); a lease not renewed in time is dropped unsent. An instance that dies stops renewing, and its requests are claimed by another once the
 * lease has expired. The first reply stored wins (`WHERE reply IS NULL`).
 */
import { setMaxListeners } from 'node:events';
import {
  ClosedError,
  InvalidArgumentError,
  componentLogger,
  exponentialBackoff,
  systemClock,
  toError,
  type Clock,
  type Logger,
  type RetryDelay,
  type TimerHandle,
  sleep,
  definedOnly,
} from '@zpatterns/core';
import { failSpan, SpanKinds, startSpan } from '@zpatterns/core/internal';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { isMmiService } from '@zpatterns/majordomo/protocol';
import { DispatchQueue, type Job, type Taken } from './dispatch-queue.js';
import type { GroupCommitter } from './group-commit.js';
import { LeaseKeeper } from './lease-keeper.js';
import { leasesOf, type StoredRequest, type TitanicStore } from './store.js';

/** The slice of `MajordomoClient` the dispatcher uses (a port, so tests can stand in for it). */
export interface DispatchClient {
  /** Send `body` to `service` and resolve with the reply body; rejects on timeout or abort. */
  request(
    service: string | Buffer,
    body: readonly Buffer[],
    options: { timeoutMs?: number; retries?: number; signal?: AbortSignal },
  ): Promise<Buffer[]>;
}

/** Options of the dispatcher; `dispatcherDefaults` holds the defaults. */
export interface DispatcherOptions {
  /** Requests in flight to services at most. @default 32 */
  concurrency?: number;
  /**
   * How long one attempt waits for the service's reply before it is abandoned and retried later.
   * Longer than your slowest service, or requests run twice. @default 10000
   */
  timeoutMs?: number;
  /** Delay before re-sending a request after its `n`-th attempt timed out. @default exponential 1 s .. 30 s, jitter 0.2 */
  retryDelay?: RetryDelay;
  /** Delay before probing a service again after its `n`-th consecutive failure. @default exponential 250 ms .. 5 s, jitter 0.2 */
  serviceRetryDelay?: RetryDelay;
  /** Ask `mmi.service` before a probe (first contact with a service, or after a failure). @default true */
  mmiCheck?: boolean;
  /**
   * How long `close()` waits for requests in flight before abandoning them. With a lease store it
   * must be shorter than `leaseMs` (the leases are renewed as the drain begins, and until they are
   * handed back). @default 2000
   */
  drainTimeoutMs?: number;
  /**
   * Lease stores only: how long a claim holds a request for this instance. Renewed every third of
   * it while the request is queued or in flight; after the instance dies, another one takes the
   * request over within `leaseMs`. Keep it well above a database round trip and restart time;
   * it must be longer than `drainTimeoutMs`. @default 30000
   */
  leaseMs?: number;
  /**
   * Lease stores only: how often to look for claimable requests (submitted to another instance,
   * released after a failure, or left by a dead instance). Local submissions are claimed at once.
   * @default 1000
   */
  claimIntervalMs?: number;
  /** Lease stores only: this instance's name in `claimed_by`. @default `<hostname>:<pid>:<random>` */
  instance?: string;
  /**
   * Lease stores only: delay before the `n`-th retry of a failed claim round or reply write while
   * the database is unreachable. @default exponential 100 ms .. 5 s, jitter 0.2
   */
  storeRetryDelay?: RetryDelay;
  logger?: Logger | undefined;
  clock?: Clock;
}

/**
 * The dispatcher's defaults: 32 requests in flight, 10 s per attempt; see `DispatcherOptions` for the rest.
 */
export const dispatcherDefaults: Required<Omit<DispatcherOptions, 'logger'>> = {
  concurrency: 32,
  timeoutMs: 10_000,
  retryDelay: exponentialBackoff({ initialMs: 1000, maxMs: 30_000, factor: 2, jitter: 0.2 }),
  serviceRetryDelay: exponentialBackoff({ initialMs: 250, maxMs: 5000, factor: 2, jitter: 0.2 }),
  mmiCheck: true,
  drainTimeoutMs: 2000,
  leaseMs: 30_000,
  claimIntervalMs: 1000,
  instance: '',
  storeRetryDelay: exponentialBackoff({ initialMs: 100, maxMs: 5000, factor: 2, jitter: 0.2 }),
  clock: systemClock,
};

/** A unique instance name: host, pid and 6 random bytes (a restarted process gets a new one). */
export function newInstanceId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(6).toString('hex')}`;
}

/** Counters of the dispatcher, live fields updated in place. */
export interface DispatcherStats {
  /** Attempts sent to services. */
  sent: number;
  /** Replies recorded. */
  replies: number;
  /** Attempts that got no reply in `timeoutMs`. */
  timeouts: number;
  /** Probes answered "404" by `mmi.service` (no worker). */
  noWorker: number;
  /** Other failures (store errors, broker errors). */
  errors: number;
  /** Requests skipped because they were closed before dispatch. */
  skipped: number;
  /** Lease stores: requests claimed. */
  claimed: number;
  /** Lease stores: leases lost (expired before renewal, or taken over) and dropped unsent. */
  leasesLost: number;
  /** Lease stores: requests handed back with a backoff after a failure. */
  released: number;
  /** Lease stores: claim rounds or renewals that failed (database unreachable). */
  storeErrors: number;
  /** Lease stores: reply writes retried (the database was unreachable when the reply came). */
  replyRetries: number;
}

const MMI_SERVICE = 'mmi.service';
const NOT_FOUND = Buffer.from('404');

/**
 * Forwards stored requests to their services through the broker (as an MDP client, one attempt
 * per try) and records each reply durably, with a per-service backoff after failures and probes of
 * services that failed. `TitanicServer` runs one; use it directly only with your own store.
 * Throws `InvalidArgumentError` for bad options.
 */
export class Dispatcher {
  readonly #stats: DispatcherStats = {
    sent: 0,
    replies: 0,
    timeouts: 0,
    noWorker: 0,
    errors: 0,
    skipped: 0,
    claimed: 0,
    leasesLost: 0,
    released: 0,
    storeErrors: 0,
    replyRetries: 0,
  };
  /** This instance's name in the store's leases (lease stores only). */
  readonly instance: string;
  /** The requests this instance holds, waiting or in flight. Its shape may change in any release. @internal */
  readonly queue: DispatchQueue;
  readonly #client: DispatchClient;
  readonly #store: TitanicStore;
  readonly #committer: GroupCommitter;
  readonly #o: Required<Omit<DispatcherOptions, 'logger'>>;
  readonly #log: Logger;
  readonly #inFlight = new Set<Promise<void>>();
  /** Lease stores: when each request in flight was sent to its service (for the hand-back at close). */
  readonly #sentAt = new Map<string, number>();
  readonly #abort = new AbortController();
  #timer: TimerHandle | undefined;
  #timerAt = Number.POSITIVE_INFINITY;
  #running = false;
  #closing: Promise<void> | undefined;
  /** Claims, renewals and releases, when the store has leases. */
  readonly #keeper: LeaseKeeper | undefined;

  /** A snapshot of the counters; read it again for fresh figures. */
  get stats(): DispatcherStats {
    return { ...this.#stats };
  }
  constructor(client: DispatchClient, store: TitanicStore, committer: GroupCommitter, options: DispatcherOptions = {}) {
    this.#client = client;
    this.#store = store;
    this.#committer = committer;
    this.#o = { ...dispatcherDefaults, ...definedOnly(options) };
    if (!(Number.isInteger(this.#o.concurrency) && this.#o.concurrency >= 1))
      throw new InvalidArgumentError('concurrency: expected a whole number >= 1');
    if (!(this.#o.timeoutMs > 0)) throw new InvalidArgumentError('timeoutMs: expected a positive number');
    if (!(this.#o.leaseMs >= 10)) throw new InvalidArgumentError('leaseMs: expected a number >= 10');
    if (!(this.#o.claimIntervalMs >= 1)) throw new InvalidArgumentError('claimIntervalMs: expected a number >= 1');
    const leases = leasesOf(store);
    if (leases !== undefined && !(this.#o.drainTimeoutMs < this.#o.leaseMs))
      throw new InvalidArgumentError(
        `leaseMs (${this.#o.leaseMs}) must be longer than drainTimeoutMs (${this.#o.drainTimeoutMs}): the leases are renewed as the drain at close begins, and a request still running must keep its lease until it is handed back`,
      );
    this.instance = this.#o.instance === '' ? newInstanceId() : this.#o.instance;
    this.#log = componentLogger(options.logger, {
      component: 'dispatcher',
      ...(leases === undefined ? {} : { instance: this.instance }),
    });
    // Every request in flight listens on the one shutdown signal.
    setMaxListeners(0, this.#abort.signal);
    this.queue = new DispatchQueue({
      retryDelay: this.#o.retryDelay,
      serviceRetryDelay: this.#o.serviceRetryDelay,
      logger: options.logger,
    });
    this.#keeper =
      leases &&
      new LeaseKeeper(
        leases,
        {
          room: () => this.#o.concurrency - this.queue.size,
          claimed: (rows) => {
            const now = this.#o.clock.now();
            for (const row of rows) this.queue.add(row.uuid, row.service, now);
            this.#pump();
          },
          lost: (uuid) => {
            if (!this.queue.has(uuid)) return false;
            this.queue.remove(uuid);
            return true;
          },
          waiting: (uuid) => this.queue.jobs().some((j) => j.uuid === uuid && !j.inFlight),
          excluded: () => this.queue.blockedServices(this.#o.clock.now()),
          held: () => this.queue.heldByService(),
        },
        {
          instance: this.instance,
          leaseMs: this.#o.leaseMs,
          claimIntervalMs: this.#o.claimIntervalMs,
          storeRetryDelay: this.#o.storeRetryDelay,
          clock: this.#o.clock,
          log: this.#log,
          stats: this.#stats,
        },
      );
  }

  /** True when requests are claimed from the store with a lease (several instances, one store). */
  get leased(): boolean {
    return this.#keeper !== undefined;
  }

  /**
   * Requests stored and not yet answered, for the backlog bound: the in-memory index, or with a
   * lease store the store-wide count at its last refresh (at most a second old while claiming)
   * plus this instance's submissions since.
   */
  get backlog(): number {
    return this.#keeper === undefined ? this.queue.size : this.#keeper.backlog;
  }

  /** Requests of `service` stored and not yet answered, by the same count as `backlog`. */
  pendingOf(service: Buffer): number {
    return this.#keeper === undefined ? this.queue.pendingOf(service) : this.#keeper.pendingOf(service);
  }

  /**
   * Load every unfinished request from the store (call before `start`). Returns how many. With a
   * lease store nothing is loaded (requests are claimed as capacity allows); the count is the
   * store's whole backlog.
   */
  async recover(): Promise<number> {
    if (this.#keeper !== undefined) {
      await this.#keeper.refreshBacklog();
      return this.#keeper.backlog;
    }
    let count = 0;
    const now = this.#o.clock.now();
    for await (const ref of this.#store.pending()) {
      this.queue.add(ref.uuid, ref.service, now);
      count++;
    }
    return count;
  }

  /** Begin dispatching: load the pending requests from the store and keep taking new ones. */
  start(): void {
    this.#running = true;
    this.#keeper?.start();
    this.#pump();
  }

  /** A newly stored request (call after its commit). */
  add(uuid: string, service: Buffer): void {
    if (this.#keeper !== undefined) {
      // Claimed like any other, so that exactly one instance dispatches it.
      this.#keeper.submitted(service);
      return;
    }
    this.queue.add(uuid, service, this.#o.clock.now());
    this.#pump();
  }

  /** A closed request: never dispatch it again. */
  remove(uuid: string): void {
    this.queue.remove(uuid);
    this.#keeper?.forget(uuid);
  }

  #pump(): void {
    if (!this.#running) return;
    const clock = this.#o.clock;
    while (this.queue.inFlight < this.#o.concurrency) {
      const taken = this.queue.take(clock.now());
      if (taken === undefined) break;
      if (taken.probe && this.#keeper !== undefined) this.#handBackBehindProbe(taken.job, this.#keeper);
      const run = this.#dispatch(taken);
      this.#inFlight.add(run);
      void run.finally(() => {
        this.#inFlight.delete(run);
        this.#pump();
        // Room for one more: claim at once rather than at the next poll (unless the store is down).
        if (this.#keeper?.storeReachable === true) this.#keeper.want();
      });
    }
    if (this.queue.inFlight < this.#o.concurrency) this.#arm();
  }

  /** Wake up when a backoff or a request delay ends. One timer, moved only when sooner. */
  #arm(): void {
    const clock = this.#o.clock;
    const inMs = this.queue.wakeInMs(clock.now());
    if (inMs === undefined) return;
    const at = clock.now() + inMs;
    if (this.#timer !== undefined && this.#timerAt <= at) return;
    if (this.#timer !== undefined) clock.clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = clock.setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = Number.POSITIVE_INFINITY;
      this.#pump();
    }, inMs);
  }

  async #dispatch({ job, probe }: Taken): Promise<void> {
    const clock = this.#o.clock;
    const signal = this.#abort.signal;
    const options = { timeoutMs: this.#o.timeoutMs, retries: 0, signal };
    let sent = false;
    // With OpenTelemetry installed: one CLIENT span per dispatch, its outcome as `titanic.outcome`.
    const span = startSpan('@zpatterns/titanic', serviceName(job), SpanKinds.client, {
      'rpc.system': 'majordomo',
      'rpc.service': serviceName(job),
      'titanic.uuid': job.uuid,
      'titanic.probe': probe,
    });
    const end = (outcome: DispatchOutcome): void => {
      span?.setAttribute('titanic.outcome', outcome);
      span?.end();
    };
    try {
      let request: StoredRequest | undefined;
      if (this.#keeper !== undefined) {
        const body = this.#keeper.holds(job.uuid);
        if (body === undefined) {
          // The lease ran out (renewals failed): another instance may hold it now. Not ours to send.
          this.#keeper.drop(job.uuid, 'lease expired before dispatch');
          end('lease-expired');
          return;
        }
        request = { uuid: job.uuid, service: job.service, body };
      } else {
        request = await this.#store.getRequest(job.uuid);
      }
      if (request === undefined) {
        // Closed (or already answered) since it was queued.
        this.#stats.skipped++;
        this.queue.remove(job.uuid);
        end('skipped');
        return;
      }
      // The broker answers mmi.* itself: there is no worker to ask about.
      if (probe && this.#o.mmiCheck && !isMmiService(job.service)) {
        const status = await this.#client.request(MMI_SERVICE, [job.service], options);
        const code = status.at(-1);
        if (code !== undefined && code.equals(NOT_FOUND)) {
          this.#stats.noWorker++;
          this.#log.debug({ uuid: job.uuid, service: serviceName(job) }, 'no worker for the service yet');
          const now = clock.now();
          this.queue.failed(job, now, false);
          // Hand it (and the service's other queued requests) back with the circuit's backoff:
          // held here they would fill this instance's claim room and stall every other service.
          if (this.#keeper !== undefined) this.#releaseAfterFailure(job, now, this.#keeper);
          end('no-worker');
          return;
        }
      }
      if (this.#keeper !== undefined && this.#keeper.holds(job.uuid) === undefined) {
        this.#keeper.drop(job.uuid, 'lease expired before dispatch');
        end('lease-expired');
        return;
      }
      sent = true;
      this.#stats.sent++;
      if (this.#keeper !== undefined) this.#sentAt.set(job.uuid, clock.now());
      const reply = await this.#client.request(job.service, request.body, options);
      if (this.#keeper === undefined) await this.#committer.write({ type: 'reply', uuid: job.uuid, body: reply });
      else await this.#storeReply(job, reply, this.#keeper);
      this.#stats.replies++;
      this.#keeper?.forget(job.uuid);
      this.queue.succeeded(job);
      end('replied');
    } catch (caught) {
      const err = toError(caught);
      if (span !== undefined) {
        const code = (err as { code?: unknown }).code;
        span.setAttribute(
          'titanic.outcome',
          this.#abort.signal.aborted ? 'abandoned' : code === 'ERR_TIMEOUT' ? 'timeout' : 'error',
        );
        failSpan(span, err);
      }
      this.#failed(job, sent, err);
    } finally {
      // Kept through close(): a request abandoned in flight is handed back with what remains of its timeout.
      if (!this.#abort.signal.aborted) this.#sentAt.delete(job.uuid);
    }
  }

  /**
   * Lease stores: record the reply, retrying while the database is unreachable, as long as the
   * lease holds; sending the request again instead would run it twice.
   */
  async #storeReply(job: Job, reply: Buffer[], keeper: LeaseKeeper): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#committer.write({ type: 'reply', uuid: job.uuid, body: reply });
        return;
      } catch (err) {
        if (this.#abort.signal.aborted || keeper.holds(job.uuid) === undefined) throw err;
        this.#stats.replyRetries++;
        const delayMs = keeper.storeDelay(attempt);
        // Request UUIDs are bearer tokens (titanic.reply, titanic.close): named at debug level only.
        this.#log.warn(
          { err: toError(err), service: serviceName(job), attempt, delayMs },
          'reply not stored, will retry',
        );
        this.#log.debug({ uuid: job.uuid, attempt }, 'reply not stored');
        await sleep(delayMs, { clock: this.#o.clock, signal: this.#abort.signal });
      }
    }
  }

  #failed(job: Job, sent: boolean, err: Error): void {
    if (this.#abort.signal.aborted) {
      this.queue.released(job);
      return;
    }
    const code = (err as { code?: unknown }).code;
    if (code === 'ERR_TIMEOUT') {
      this.#stats.timeouts++;
      this.#log.debug({ uuid: job.uuid, sent }, 'attempt timed out');
      this.#log.info(
        {
          service: serviceName(job),
          attempts: job.attempts + (sent ? 1 : 0),
          timeoutMs: this.#o.timeoutMs,
        },
        sent ? 'no reply from the service, will retry' : 'broker did not answer mmi.service, will retry',
      );
    } else {
      this.#stats.errors++;
      this.#log.debug({ uuid: job.uuid }, 'dispatch failed');
      this.#log.error({ err, service: serviceName(job) }, 'dispatch failed, will retry');
    }
    const now = this.#o.clock.now();
    this.queue.failed(job, now, sent);
    if (this.#keeper !== undefined) this.#releaseAfterFailure(job, now, this.#keeper);
  }

  /**
   * Lease stores: hand a failed request back with its backoff instead of holding it here, so that
   * a dead service cannot fill this instance's queue; while the service's circuit is open, its
   * other queued requests go back too, with the circuit's delay.
   */
  #releaseAfterFailure(job: Job, now: number, keeper: LeaseKeeper): void {
    const openAt = this.queue.circuit(job.service)?.openAt();
    const serviceDelayMs = openAt !== undefined && Number.isFinite(openAt) ? Math.max(0, openAt - now) : 0;
    const others: string[] = [];
    if (serviceDelayMs > 0) {
      for (const other of this.queue.jobs()) {
        if (other !== job && !other.inFlight && other.service.equals(job.service)) others.push(other.uuid);
      }
    }
    const give = (uuids: string[], delayMs: number): void => {
      for (const uuid of uuids) this.queue.remove(uuid);
      keeper.release(uuids, delayMs);
    };
    give([job.uuid], Math.max(serviceDelayMs, job.notBefore - now));
    if (others.length > 0) give(others, serviceDelayMs);
  }

  /**
   * Lease stores: a probe after a failure is in flight, and its service is not claimed meanwhile;
   * its other queued requests go back at once (any instance may take them), rather than hold this
   * instance's room for as long as the probe may take (up to `timeoutMs` when the service hangs).
   */
  #handBackBehindProbe(probe: Job, keeper: LeaseKeeper): void {
    const circuit = this.queue.circuit(probe.service)?.current;
    if (circuit?.state !== 'probing' || circuit.failures === 0) return;
    const others = this.queue
      .jobs()
      .filter((j) => j !== probe && !j.inFlight && j.service.equals(probe.service))
      .map((j) => j.uuid);
    if (others.length === 0) return;
    for (const uuid of others) this.queue.remove(uuid);
    keeper.release(others, 0);
  }

  /**
   * Stop dispatching; wait up to `drainTimeoutMs` for requests in flight, then abandon them (they
   * stay pending in the store and are sent again after a restart). With a lease store the leases
   * are renewed until they are handed back: queued requests claimable at once, abandoned ones
   * once their `timeoutMs` since sending has passed. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#running = false;
      if (this.#timer !== undefined) this.#o.clock.clearTimeout(this.#timer);
      this.#timer = undefined;
      // Claims stop; renewals go on until the leases are handed back, so that no other instance
      // takes over a request that is still running here while the drain waits for it.
      const claimsStopped = this.#keeper?.stopClaiming();
      const all = Promise.allSettled([...this.#inFlight]);
      let timer: TimerHandle | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = this.#o.clock.setTimeout(resolve, this.#o.drainTimeoutMs);
      });
      await Promise.race([all, timeout]);
      if (timer !== undefined) this.#o.clock.clearTimeout(timer);
      this.#abort.abort(new ClosedError('dispatcher'));
      await Promise.allSettled([...this.#inFlight, claimsStopped]);
      // Hand every lease back at once, so the other instances need not wait for them to expire;
      // a request abandoned in flight only once its timeout has run out, since its worker may
      // still be running it (sent again sooner, it would run twice at once).
      const now = this.#o.clock.now();
      await this.#keeper?.releaseAll(1000, (uuid) => {
        const sentAt = this.#sentAt.get(uuid);
        return sentAt === undefined ? 0 : Math.max(0, sentAt + this.#o.timeoutMs - now);
      });
      await this.#keeper?.stop();
    })();
    return this.#closing;
  }
}

/** How one dispatch ended, as the span's `titanic.outcome` (failures: `timeout`, `error`, `abandoned`). */
type DispatchOutcome = 'replied' | 'no-worker' | 'skipped' | 'lease-expired';

function serviceName(job: Job): string {
  return job.service.toString('utf8');
}
