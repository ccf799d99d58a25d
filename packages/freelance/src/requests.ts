/**
 * The client's requests in flight: each with its id (the control frame), its whole-call deadline
 * and its attempt timer. An attempt goes to the server(s) the `ServerTable` picks; a request waits
 * while no server is alive, and moves to the next live server when its attempt times out or its
 * server dies, until it is answered, out of retries, out of time, aborted, or the client closes.
 * No sockets here: sends go through `send`, time through the injected clock.
 *
 *   add --> waiting (no live server) --serverAlive--> attempt on A --timeout/death--> attempt on B
 *                                                         |                             |
 *   settled <------------- answered (first reply wins) ---+-----------------------------+
 */
import { AbortError, type Clock, type Frames, type Logger, type TimerHandle } from '@zpatterns/core';
import type { TraceSpan } from '@zpatterns/core/internal';
import type { FreelanceClientStats } from './client-options.js';
import { encodeRequest, encodeRequestId } from './codec.js';
import { FreelanceTimeoutError } from './errors.js';
import type { FreelanceStrategy, ServerEntry, ServerTable } from './servers.js';

/** What `Requests` needs from its client. */
export interface RequestsOptions {
  /** Which servers are alive, and which one an attempt goes to. */
  readonly table: ServerTable;
  readonly strategy: FreelanceStrategy;
  /** Resends after the first send. */
  readonly retries: number;
  readonly clock: Clock;
  /** The client's counters: `requests`, `replies`, `resends`, `timeouts`, `duplicates`. */
  readonly stats: FreelanceClientStats;
  readonly log: Logger;
  /** Queue a message on the client's socket. */
  readonly send: (message: Frames) => void;
}

/** One call's whole budget and its trace span. */
export interface RequestBudget {
  /** The whole call, waiting for a live server included. */
  readonly timeoutMs: number;
  /** One attempt's wait before the request goes to the next live server. */
  readonly attemptTimeoutMs: number;
  /** The call's CLIENT span, when OpenTelemetry is installed. */
  readonly span: TraceSpan | undefined;
  readonly signal: AbortSignal | undefined;
}

interface Pending {
  readonly id: number;
  readonly control: Buffer;
  readonly body: Frames;
  readonly tried: string[];
  readonly attemptTimeoutMs: number;
  readonly span: TraceSpan | undefined;
  attempts: number;
  /** Servers of the current attempt. */
  targets: ServerEntry[];
  attemptTimer: TimerHandle | undefined;
  deadline: TimerHandle | undefined;
  readonly resolve: (reply: Buffer[]) => void;
  readonly reject: (err: Error) => void;
  readonly cleanup: () => void;
}

/** The requests of one client that are not answered yet. */
export class Requests {
  readonly #options: RequestsOptions;
  readonly #pending = new Map<number, Pending>();
  /** Requests waiting for a live server, in arrival order. */
  readonly #waiting = new Set<Pending>();
  #nextId = 1;

  constructor(options: RequestsOptions) {
    this.#options = options;
  }

  /** Requests not yet answered (in flight or waiting for a live server). */
  get size(): number {
    return this.#pending.size;
  }

  /** Send `body` now, or once a server is alive; resolves with the reply frames. */
  add(body: Frames, budget: RequestBudget): Promise<Buffer[]> {
    const { clock, stats } = this.#options;
    const { signal, timeoutMs } = budget;
    const id = this.#nextId++;
    stats.requests++;
    return new Promise<Buffer[]>((resolve, reject) => {
      const onAbort = (): void => this.#fail(p, new AbortError('request aborted', { cause: signal?.reason }));
      const p: Pending = {
        id,
        control: encodeRequestId(id),
        body,
        tried: [],
        attemptTimeoutMs: budget.attemptTimeoutMs,
        span: budget.span,
        attempts: 0,
        targets: [],
        attemptTimer: undefined,
        deadline: undefined,
        resolve,
        reject,
        cleanup: () => signal?.removeEventListener('abort', onAbort),
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      p.deadline = clock.setTimeout(() => {
        stats.timeouts++;
        this.#fail(p, new FreelanceTimeoutError(p.tried, p.attempts, `within timeoutMs=${timeoutMs}`));
      }, timeoutMs);
      this.#pending.set(id, p);
      this.#dispatch(p);
    });
  }

  /**
   * A reply `body` came from `entry` for request `id` (`undefined` when the control frame was not
   * one of ours): settle the request, or count a duplicate.
   */
  answered(entry: ServerEntry, id: number | undefined, body: Buffer[]): void {
    const { stats } = this.#options;
    const p = id === undefined ? undefined : this.#pending.get(id);
    if (p === undefined) {
      stats.duplicates++;
      return;
    }
    entry.replies++;
    stats.replies++;
    p.span?.setAttribute('server.address', entry.endpoint);
    this.#settle(p);
    p.resolve(body);
  }

  /** A server came (back) to life: send what waited for one. */
  serverAlive(): void {
    if (this.#waiting.size === 0) return;
    const waiting = [...this.#waiting];
    this.#waiting.clear();
    for (const p of waiting) this.#dispatch(p);
  }

  /** `entry` died: resend what was on it, unless another server of the same attempt (strategy 'all') is alive. */
  serverDead(entry: ServerEntry): void {
    for (const id of [...entry.inFlight]) {
      entry.inFlight.delete(id);
      const p = this.#pending.get(id);
      if (p === undefined) continue;
      p.targets = p.targets.filter((t) => t !== entry);
      if (!p.targets.some((t) => this.#options.table.isAlive(t))) this.#dispatch(p);
    }
  }

  /** Reject every request with `err` (the client is closing). */
  failAll(err: Error): void {
    for (const p of [...this.#pending.values()]) this.#fail(p, err);
  }

  /** Send `p`'s next attempt, or park it until a server is alive, or fail it when out of retries. */
  #dispatch(p: Pending): void {
    const { table, stats, clock } = this.#options;
    this.#detach(p);
    if (p.attempts > this.#options.retries) {
      stats.timeouts++;
      this.#fail(p, new FreelanceTimeoutError(p.tried, p.attempts, 'from any server'));
      return;
    }
    const targets = this.#options.strategy === 'all' ? table.alive() : [table.pick(new Set(p.tried))].filter(isDefined);
    if (targets.length === 0) {
      this.#waiting.add(p);
      return;
    }
    if (p.attempts > 0) stats.resends++;
    p.attempts++;
    p.targets = targets;
    p.span?.setAttribute('freelance.attempts', p.attempts);
    for (const target of targets) {
      p.span?.addEvent('attempt', { 'freelance.attempt': p.attempts, 'server.address': target.endpoint });
      p.tried.push(target.endpoint);
      target.inFlight.add(p.id);
      target.sent++;
      this.#options.send(encodeRequest(target.id, p.control, p.body));
    }
    p.attemptTimer = clock.setTimeout(() => {
      p.attemptTimer = undefined;
      this.#options.log.debug({ id: p.id, servers: targets.map((t) => t.endpoint) }, 'attempt timed out');
      this.#dispatch(p);
    }, p.attemptTimeoutMs);
  }

  /** Take `p` off its current servers and timers (not its deadline). */
  #detach(p: Pending): void {
    for (const target of p.targets) target.inFlight.delete(p.id);
    p.targets = [];
    if (p.attemptTimer !== undefined) this.#options.clock.clearTimeout(p.attemptTimer);
    p.attemptTimer = undefined;
    this.#waiting.delete(p);
  }

  #settle(p: Pending): boolean {
    if (this.#pending.get(p.id) !== p) return false;
    this.#pending.delete(p.id);
    this.#detach(p);
    if (p.deadline !== undefined) this.#options.clock.clearTimeout(p.deadline);
    p.cleanup();
    return true;
  }

  #fail(p: Pending, err: Error): void {
    if (this.#settle(p)) p.reject(err);
  }
}

function isDefined<T>(value: T | undefined): value is T {
  return value !== undefined;
}
