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
 * The leases themselves (claim loop, renewals, hand-backs) live in `LeaseKeeper`; one dispatch
 * (body, probe, send, reply stored) is `JobSender`'s. A request is dispatched only while this
 * instance's lease on it holds by a conservative local deadline (sent time of the claim/renew +
 * leaseMs); a lease not renewed in time is dropped unsent. An instance that dies stops renewing,
 * and its requests are claimed by another once the lease has expired. The first reply stored wins
 * (`WHERE reply IS NULL`).
 */
import { setMaxListeners } from 'node:events';
import {
  ClosedError,
  invalidOption,
  resolveOptions,
  type Logger,
  type ResolvedOptions,
  type TimerHandle,
} from '@zpatterns/core';
import { componentLogger } from '@zpatterns/core/internal';
import { DispatchQueue } from './dispatch-queue.js';
import {
  dispatcherDefaults,
  dispatcherRules,
  newInstanceId,
  type DispatchClient,
  type DispatcherOptions,
  type DispatcherStats,
} from './dispatcher-options.js';
import type { GroupCommitter } from './group-commit.js';
import { JobSender } from './job-sender.js';
import { handBackBehindProbe } from './lease-handback.js';
import { LeaseKeeper } from './lease-keeper.js';
import { leasesOf, type TitanicStore } from './store.js';

/**
 * Forwards stored requests to their services through the broker (as an MDP client, one attempt
 * per try) and records each reply durably, with a per-service backoff after failures and probes of
 * services that failed. `TitanicServer` runs one. Throws `InvalidArgumentError` for bad options.
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
  readonly #store: TitanicStore;
  readonly #o: ResolvedOptions<DispatcherOptions, typeof dispatcherDefaults>;
  readonly #log: Logger;
  /** Dispatches running (their `send` not settled yet). */
  #active = 0;
  /** Told when `#active` drops to 0, while `close()` waits for that. */
  #whenIdle: (() => void) | undefined;
  /** A dispatch has ended (one function for all: no closure per dispatch). */
  readonly #onFinished = (): void => this.#finished();
  /** Lease stores: when each request in flight was sent to its service (for the hand-back at close). */
  readonly #sentAt = new Map<string, number>();
  readonly #abort = new AbortController();
  #timer: TimerHandle | undefined;
  #timerAt = Number.POSITIVE_INFINITY;
  #running = false;
  #closing: Promise<void> | undefined;
  /** Claims, renewals and releases, when the store has leases. */
  readonly #keeper: LeaseKeeper | undefined;
  readonly #sender: JobSender;
  readonly #client: DispatchClient;
  /** The request being added, and its body, while `add` runs the pump (sent at once: no store read). */
  #freshUuid: string | undefined;
  #freshBody: Buffer[] | undefined;

  /** A snapshot of the counters; read it again for fresh figures. */
  get stats(): DispatcherStats {
    return { ...this.#stats };
  }
  constructor(client: DispatchClient, store: TitanicStore, committer: GroupCommitter, options: DispatcherOptions = {}) {
    this.#store = store;
    this.#client = client;
    this.#o = resolveOptions('TitanicServer', options, dispatcherDefaults, dispatcherRules);
    const leases = leasesOf(store);
    if (leases !== undefined && !(this.#o.drainTimeoutMs < this.#o.leaseMs)) {
      // The leases are renewed as the drain at close begins: a request still running must keep its
      // lease until it is handed back.
      throw invalidOption(
        'TitanicServer',
        'leaseMs',
        `longer than drainTimeoutMs (${this.#o.drainTimeoutMs}) on a lease store`,
        this.#o.leaseMs,
      );
    }
    this.instance = this.#o.instance ?? newInstanceId();
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
    this.#sender = new JobSender({
      client,
      store,
      committer,
      queue: this.queue,
      keeper: this.#keeper,
      stats: this.#stats,
      log: this.#log,
      clock: this.#o.clock,
      timeoutMs: this.#o.dispatchTimeoutMs,
      mmiCheck: this.#o.mmiCheck,
      signal: this.#abort.signal,
      sentAt: this.#sentAt,
    });
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

  /** Requests of a service (its name as latin1) stored and not yet answered, by the same count as `backlog`. */
  pendingOf(key: string): number {
    return this.#keeper === undefined ? this.queue.pendingOf(key) : this.#keeper.pendingOf(key);
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

  /**
   * A newly stored request (call after its commit). With its `body`, a request the pump sends at
   * once is sent from it, not read back from the store; one left queued is read when its turn comes
   * (the queue holds no bodies).
   */
  add(uuid: string, service: Buffer, body?: Buffer[], key = service.toString('latin1')): void {
    if (this.#keeper !== undefined) {
      // Claimed like any other, so that exactly one instance dispatches it.
      this.#keeper.submitted(key);
      return;
    }
    const now = this.#o.clock.now();
    this.queue.add(uuid, service, now, key);
    this.#freshUuid = uuid;
    this.#freshBody = body;
    try {
      this.#pump(now);
    } finally {
      this.#freshUuid = undefined;
      this.#freshBody = undefined;
    }
  }

  /** A closed request: never dispatch it again. */
  remove(uuid: string): void {
    this.queue.remove(uuid);
    this.#keeper?.forget(uuid);
  }

  /** Send what may be sent now (`now`: the clock's time, read once per run). */
  #pump(now = this.#o.clock.now()): void {
    if (!this.#running) return;
    while (this.queue.inFlight < this.#o.concurrency) {
      const taken = this.queue.take(now);
      if (taken === undefined) break;
      if (taken.probe && this.#keeper !== undefined) handBackBehindProbe(this.queue, this.#keeper, taken.job);
      this.#active++;
      // A `then`, not a `finally` (which costs one promise and one reaction more). `send` never
      // rejects; were it to, the room is given back all the same.
      void this.#sender
        .send(taken, this.#freshUuid === taken.job.uuid ? this.#freshBody : undefined)
        .then(this.#onFinished, this.#onFinished);
    }
    if (this.queue.inFlight < this.#o.concurrency) this.#arm(now);
  }

  /** A dispatch has ended: room for the next. */
  #finished(): void {
    if (--this.#active === 0 && this.#whenIdle !== undefined) {
      const idle = this.#whenIdle;
      this.#whenIdle = undefined;
      idle();
    }
    this.#pump();
    // Room for one more: claim at once rather than at the next poll (unless the store is down).
    if (this.#keeper?.storeReachable === true) this.#keeper.want();
  }

  /** Wake up when a backoff or a request delay ends. One timer, moved only when sooner. */
  #arm(now: number): void {
    const clock = this.#o.clock;
    const inMs = this.queue.wakeInMs(now);
    if (inMs === undefined) return;
    const at = now + inMs;
    if (this.#timer !== undefined && this.#timerAt <= at) return;
    if (this.#timer !== undefined) clock.clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = clock.setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = Number.POSITIVE_INFINITY;
      this.#pump();
    }, inMs);
  }

  /** Resolves once no dispatch is running. */
  #idle(): Promise<void> {
    if (this.#active === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const before = this.#whenIdle;
      this.#whenIdle =
        before === undefined
          ? resolve
          : () => {
              before();
              resolve();
            };
    });
  }

  /**
   * Stop dispatching; wait up to `drainTimeoutMs` for requests in flight, then abandon them (they
   * stay pending in the store and are sent again after a restart) and close the client, when it
   * has `close`. With a lease store the leases
   * are renewed until they are handed back: queued requests claimable at once, abandoned ones
   * once their `dispatchTimeoutMs` since sending has passed. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#running = false;
      if (this.#timer !== undefined) this.#o.clock.clearTimeout(this.#timer);
      this.#timer = undefined;
      // Claims stop; renewals go on until the leases are handed back, so that no other instance
      // takes over a request that is still running here while the drain waits for it.
      const claimsStopped = this.#keeper?.stopClaiming();
      const all = this.#idle();
      let timer: TimerHandle | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = this.#o.clock.setTimeout(resolve, this.#o.drainTimeoutMs);
      });
      await Promise.race([all, timeout]);
      if (timer !== undefined) this.#o.clock.clearTimeout(timer);
      this.#abort.abort(new ClosedError('dispatcher'));
      // A client that can be closed got no signal with its requests: closing it abandons them.
      await this.#client.close?.();
      await Promise.allSettled([this.#idle(), claimsStopped]);
      // Hand every lease back at once, so the other instances need not wait for them to expire;
      // a request abandoned in flight only once its timeout has run out, since its worker may
      // still be running it (sent again sooner, it would run twice at once).
      const now = this.#o.clock.now();
      await this.#keeper?.releaseAll(1000, (uuid) => {
        const sentAt = this.#sentAt.get(uuid);
        return sentAt === undefined ? 0 : Math.max(0, sentAt + this.#o.dispatchTimeoutMs - now);
      });
      await this.#keeper?.stop();
    })();
    return this.#closing;
  }
}
