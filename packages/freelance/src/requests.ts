/**
 * The client's requests in flight. Each call runs on core's `CallBudget` (the whole-call
 * `timeoutMs`, each attempt's `attemptTimeoutMs`, `retries`, the caller's signal): it waits for a
 * connected server, sends to the server(s) the `ServerTable` picks, and moves to the next one when
 * the attempt's wait runs out or its server is lost, until a reply comes (from any attempt: the
 * first wins), the budget is spent (`TimeoutError` with `attempts`), the caller aborts
 * (`AbortError`) or the client closes (`ClosedError`). No sockets here: sends go through `send`,
 * time through the injected clock.
 *
 *   call --> wait for a server --> attempt on A --attempt timeout / A lost--> attempt on B ...
 *                                      |                                         |
 *   reply <---------------------- first reply [id][reply...] wins ---------------+
 */
import { CallBudget, TimeoutError, type Clock, type Frames, type Logger, type RequestOptions } from '@zpatterns/core';
import type { TraceSpan } from '@zpatterns/core/internal';
import type { FreelanceClientStats } from './client-options.js';
import { encodeRequest, encodeRequestId } from './codec.js';
import type { FreelanceStrategy, ServerEntry, ServerTable } from './servers.js';

/** What `Requests` needs from its client. */
export interface RequestsOptions {
  /** Which servers are connected, and which one an attempt goes to. */
  readonly table: ServerTable;
  readonly strategy: FreelanceStrategy;
  /** The client's defaults for every call. */
  readonly defaults: { readonly timeoutMs: number; readonly attemptTimeoutMs: number; readonly retries: number };
  readonly clock: Clock;
  /** The client's counters: `requests`, `replies`, `retries`, `timeouts`, `duplicates`. */
  readonly stats: FreelanceClientStats;
  readonly log: Logger;
  /** Queue a message on the client's socket. */
  readonly send: (message: Frames) => void;
}

/** A promise with its settlers at hand. */
interface Deferred<T> {
  readonly promise: Promise<T>;
  readonly resolve: (value: T) => void;
  readonly reject: (err: Error) => void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Whoever awaits it handles the rejection; a call that already ended must not leave it unhandled.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/** The current attempt's servers were all lost before the attempt's wait ran out. */
const LOST = Symbol('lost');

interface Pending {
  readonly id: number;
  /** The call's CLIENT span, when OpenTelemetry is installed. */
  readonly span: TraceSpan | undefined;
  /** Settled by the first reply from any attempt, or rejected when the client closes. */
  readonly reply: Deferred<Buffer[]>;
  /** Servers of the current attempt. */
  targets: ServerEntry[];
  /** Resolved when every server of the current attempt is lost. */
  lost: Deferred<typeof LOST>;
}

/** The requests of one client that are not answered yet. */
export class Requests {
  readonly #options: RequestsOptions;
  readonly #pending = new Map<number, Pending>();
  /** Calls waiting for a server to connect. */
  readonly #waiting = new Set<Deferred<void>>();
  #nextId = 1;
  #closed: Error | undefined;

  constructor(options: RequestsOptions) {
    this.#options = options;
  }

  /** Requests not yet answered (in flight or waiting for a connected server). */
  get size(): number {
    return this.#pending.size;
  }

  /**
   * Send `body` to a connected server and resolve with the reply frames, within the budget of
   * `options` (the client's defaults for what it leaves out). Throws `InvalidArgumentError` for a
   * bad `timeoutMs`, `attemptTimeoutMs` or `retries`.
   */
  async call(body: Frames, options: RequestOptions, span: TraceSpan | undefined): Promise<Buffer[]> {
    const { defaults, clock, stats } = this.#options;
    const retries = options.retries ?? defaults.retries;
    using budget = new CallBudget(
      'FreelanceClient.request',
      {
        timeoutMs: options.timeoutMs ?? defaults.timeoutMs,
        attemptTimeoutMs: options.attemptTimeoutMs ?? defaults.attemptTimeoutMs,
        retries,
        signal: options.signal,
      },
      clock,
    );
    if (this.#closed !== undefined) throw this.#closed;
    const id = this.#nextId++;
    const p: Pending = { id, span, reply: deferred(), targets: [], lost: deferred() };
    const control = encodeRequestId(id);
    const tried: string[] = [];
    stats.requests++;
    this.#pending.set(id, p);
    try {
      while (budget.attempts <= retries) {
        const targets = await this.#targets(tried, budget.signal);
        if (!budget.next()) break;
        if (budget.attempts > 1) stats.retries++;
        this.#attempt(p, targets, control, body, budget.attempts, tried);
        const outcome = await budget.race(Promise.race([p.reply.promise, p.lost.promise]));
        if (outcome.ok && outcome.value !== LOST) return outcome.value;
        if (!outcome.ok) this.#options.log.debug({ id, servers: targets.map((t) => t.endpoint) }, 'attempt timed out');
      }
      throw budget.error();
    } catch (err) {
      if (!(err instanceof TimeoutError)) throw err;
      stats.timeouts++;
      throw new TimeoutError(
        `${err.message}; servers tried: ${tried.length === 0 ? 'none (no server was reachable)' : tried.join(', ')} ` +
          `(raise timeoutMs, attemptTimeoutMs or retries, or check that a server is running)`,
        { attempts: budget.attempts },
      );
    } finally {
      this.#detach(p);
      this.#pending.delete(id);
    }
  }

  /**
   * A reply `body` came from `entry` for request `id` (`undefined` when the control frame was not
   * one of ours): answer the request, or count a duplicate.
   */
  answered(entry: ServerEntry, id: number | undefined, body: Buffer[]): void {
    const { stats } = this.#options;
    const p = id === undefined ? undefined : this.#pending.get(id);
    if (p === undefined) {
      stats.duplicates++;
      return;
    }
    this.#pending.delete(p.id);
    entry.replies++;
    stats.replies++;
    p.span?.setAttribute('server.address', entry.endpoint);
    p.reply.resolve(body);
  }

  /** A server connected: the calls waiting for one go on. */
  serverConnected(): void {
    const waiting = [...this.#waiting];
    this.#waiting.clear();
    for (const w of waiting) w.resolve();
  }

  /** `entry` was lost: its attempts end now, unless another server of the same attempt (strategy 'all') is connected. */
  serverLost(entry: ServerEntry): void {
    for (const id of [...entry.inFlight]) {
      entry.inFlight.delete(id);
      const p = this.#pending.get(id);
      if (p === undefined) continue;
      p.targets = p.targets.filter((t) => t !== entry);
      if (!p.targets.some((t) => this.#options.table.isAlive(t))) p.lost.resolve(LOST);
    }
  }

  /** The client closes: every call rejects with `err`, and so does every later one. */
  failAll(err: Error): void {
    this.#closed = err;
    for (const w of this.#waiting) w.reject(err);
    this.#waiting.clear();
    for (const p of [...this.#pending.values()]) p.reply.reject(err);
  }

  /** The servers of the next attempt; waits (within the call's budget) while none is connected. */
  async #targets(tried: readonly string[], signal: AbortSignal): Promise<ServerEntry[]> {
    const { table, strategy } = this.#options;
    for (;;) {
      const targets = strategy === 'all' ? table.alive() : [table.pick(new Set(tried))].filter(isDefined);
      if (targets.length > 0) return targets;
      await this.#serverConnects(signal);
    }
  }

  /** Resolves when a server connects; rejects with `signal`'s reason, or when the client closes. */
  #serverConnects(signal: AbortSignal): Promise<void> {
    if (this.#closed !== undefined) return Promise.reject(this.#closed);
    if (signal.aborted) return Promise.reject(signal.reason as Error);
    const waiter = deferred<void>();
    const onAbort = (): void => {
      this.#waiting.delete(waiter);
      waiter.reject(signal.reason as Error);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    this.#waiting.add(waiter);
    return waiter.promise.finally(() => signal.removeEventListener('abort', onAbort));
  }

  /** Send attempt `attempt` of `p` to `targets`. */
  #attempt(p: Pending, targets: ServerEntry[], control: Buffer, body: Frames, attempt: number, tried: string[]): void {
    this.#detach(p);
    p.targets = targets;
    p.lost = deferred();
    p.span?.setAttribute('freelance.attempts', attempt);
    for (const target of targets) {
      p.span?.addEvent('attempt', { 'freelance.attempt': attempt, 'server.address': target.endpoint });
      tried.push(target.endpoint);
      target.inFlight.add(p.id);
      target.sent++;
      this.#options.send(encodeRequest(target.id, control, body));
    }
  }

  /** Take `p` off the servers of its current attempt. */
  #detach(p: Pending): void {
    for (const target of p.targets) target.inFlight.delete(p.id);
    p.targets = [];
  }
}

function isDefined<T>(value: T | undefined): value is T {
  return value !== undefined;
}
