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
 */
import { setMaxListeners } from 'node:events';
import {
  componentLogger,
  exponentialBackoff,
  systemClock,
  toError,
  type Clock,
  type Logger,
  type RetryDelay,
  type TimerHandle,
} from '@zpatterns/core';
import { isMmiService } from '@zpatterns/majordomo';
import { DispatchQueue, type Job, type Taken } from './dispatch-queue.js';
import type { GroupCommitter } from './group-commit.js';
import type { TitanicStore } from './store.js';

/** The slice of `MajordomoClient` the dispatcher uses (a port, so tests can stand in for it). */
export interface DispatchClient {
  request(
    service: string | Buffer,
    body: readonly Buffer[],
    options: { timeoutMs?: number; retries?: number; signal?: AbortSignal },
  ): Promise<Buffer[]>;
}

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
  /** How long `close()` waits for requests in flight before abandoning them. @default 2000 */
  drainTimeoutMs?: number;
  logger?: Logger | undefined;
  clock?: Clock;
}

export const dispatcherDefaults: Required<Omit<DispatcherOptions, 'logger'>> = {
  concurrency: 32,
  timeoutMs: 10_000,
  retryDelay: exponentialBackoff({ initialMs: 1000, maxMs: 30_000, factor: 2, jitter: 0.2 }),
  serviceRetryDelay: exponentialBackoff({ initialMs: 250, maxMs: 5000, factor: 2, jitter: 0.2 }),
  mmiCheck: true,
  drainTimeoutMs: 2000,
  clock: systemClock,
};

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
}

const MMI_SERVICE = 'mmi.service';
const NOT_FOUND = Buffer.from('404');

export class Dispatcher {
  readonly stats: DispatcherStats = { sent: 0, replies: 0, timeouts: 0, noWorker: 0, errors: 0, skipped: 0 };
  readonly queue: DispatchQueue;
  readonly #client: DispatchClient;
  readonly #store: TitanicStore;
  readonly #committer: GroupCommitter;
  readonly #o: Required<Omit<DispatcherOptions, 'logger'>>;
  readonly #log: Logger;
  readonly #inFlight = new Set<Promise<void>>();
  readonly #abort = new AbortController();
  #timer: TimerHandle | undefined;
  #timerAt = Number.POSITIVE_INFINITY;
  #running = false;
  #closing: Promise<void> | undefined;

  constructor(client: DispatchClient, store: TitanicStore, committer: GroupCommitter, options: DispatcherOptions = {}) {
    this.#client = client;
    this.#store = store;
    this.#committer = committer;
    this.#o = { ...dispatcherDefaults, ...stripUndefined(options) };
    if (!(Number.isInteger(this.#o.concurrency) && this.#o.concurrency >= 1))
      throw new RangeError('concurrency: expected a whole number >= 1');
    if (!(this.#o.timeoutMs > 0)) throw new RangeError('timeoutMs: expected a positive number');
    this.#log = componentLogger(options.logger, { component: 'dispatcher' });
    // Every request in flight listens on the one shutdown signal.
    setMaxListeners(0, this.#abort.signal);
    this.queue = new DispatchQueue({
      retryDelay: this.#o.retryDelay,
      serviceRetryDelay: this.#o.serviceRetryDelay,
      logger: options.logger,
    });
  }

  /** Load every unfinished request from the store (call before `start`). Returns how many. */
  async recover(): Promise<number> {
    let count = 0;
    const now = this.#o.clock.now();
    for await (const ref of this.#store.pending()) {
      this.queue.add(ref.uuid, ref.service, now);
      count++;
    }
    return count;
  }

  start(): void {
    this.#running = true;
    this.#pump();
  }

  /** A newly stored request (call after its commit). */
  add(uuid: string, service: Buffer): void {
    this.queue.add(uuid, service, this.#o.clock.now());
    this.#pump();
  }

  /** A closed request: never dispatch it again. */
  remove(uuid: string): void {
    this.queue.remove(uuid);
  }

  #pump(): void {
    if (!this.#running) return;
    const clock = this.#o.clock;
    while (this.queue.inFlight < this.#o.concurrency) {
      const taken = this.queue.take(clock.now());
      if (taken === undefined) break;
      const run = this.#dispatch(taken);
      this.#inFlight.add(run);
      void run.finally(() => {
        this.#inFlight.delete(run);
        this.#pump();
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
    try {
      const request = await this.#store.getRequest(job.uuid);
      if (request === undefined) {
        // Closed (or already answered) since it was queued.
        this.stats.skipped++;
        this.queue.remove(job.uuid);
        return;
      }
      // The broker answers mmi.* itself: there is no worker to ask about.
      if (probe && this.#o.mmiCheck && !isMmiService(job.service)) {
        const status = await this.#client.request(MMI_SERVICE, [job.service], options);
        const code = status.at(-1);
        if (code !== undefined && code.equals(NOT_FOUND)) {
          this.stats.noWorker++;
          this.#log.debug({ uuid: job.uuid, service: serviceName(job) }, 'no worker for the service yet');
          this.queue.failed(job, clock.now(), false);
          return;
        }
      }
      sent = true;
      this.stats.sent++;
      const reply = await this.#client.request(job.service, request.body, options);
      await this.#committer.write({ type: 'reply', uuid: job.uuid, body: reply });
      this.stats.replies++;
      this.queue.succeeded(job);
    } catch (caught) {
      this.#failed(job, sent, toError(caught));
    }
  }

  #failed(job: Job, sent: boolean, err: Error): void {
    if (this.#abort.signal.aborted) {
      this.queue.released(job);
      return;
    }
    const code = (err as { code?: unknown }).code;
    if (code === 'ERR_TIMEOUT') {
      this.stats.timeouts++;
      this.#log.info(
        {
          uuid: job.uuid,
          service: serviceName(job),
          attempts: job.attempts + (sent ? 1 : 0),
          timeoutMs: this.#o.timeoutMs,
        },
        sent ? 'no reply from the service, will retry' : 'broker did not answer mmi.service, will retry',
      );
    } else {
      this.stats.errors++;
      this.#log.error({ err, uuid: job.uuid, service: serviceName(job) }, 'dispatch failed, will retry');
    }
    this.queue.failed(job, this.#o.clock.now(), sent);
  }

  /**
   * Stop dispatching; wait up to `drainTimeoutMs` for requests in flight, then abandon them (they
   * stay pending in the store and are sent again after a restart). Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#running = false;
      if (this.#timer !== undefined) this.#o.clock.clearTimeout(this.#timer);
      this.#timer = undefined;
      const all = Promise.allSettled([...this.#inFlight]);
      let timer: TimerHandle | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = this.#o.clock.setTimeout(resolve, this.#o.drainTimeoutMs);
      });
      await Promise.race([all, timeout]);
      if (timer !== undefined) this.#o.clock.clearTimeout(timer);
      this.#abort.abort(new Error('dispatcher closed'));
      await Promise.allSettled([...this.#inFlight]);
    })();
    return this.#closing;
  }
}

function serviceName(job: Job): string {
  return job.service.toString('utf8');
}

export function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
