/**
 * `FreelanceClient`: the book's `flcliapi` agent, as an object on the event loop. One ROUTER
 * connected to every server; servers are pinged while idle and declared dead after `serverTtlMs`
 * of silence, or at once when libzmq reports them unreachable (the ROUTER is `mandatory`). Many
 * requests are in flight at once, each with its id in the control frame, its own deadline and an
 * attempt timer; a request whose server dies or times out is resent to the next live server.
 *
 *   request(body) --> waiting (no live server) --first PONG--> sent to server A --timeout/death--> B
 *        ^                                                          |                              |
 *        +---------------- reply [id][reply...] (first wins) -------+------------------------------+
 */
import * as zmq from 'zeromq';
import {
  applyConnectSecurity,
  AbortError,
  Channel,
  ClosedError,
  componentLogger,
  definedOnly,
  describe,
  systemClock,
  toBuffer,
  toError,
  type Clock,
  type Frames,
  type Logger,
  type Message,
  type TimerHandle,
  type SecurityOptions,
  WarningLimiter,
} from '@zpatterns/core';
import { FreelanceOptionsError, FreelanceTimeoutError } from './errors.js';
import { decodeClientInbound, decodeRequestId, encodePing, encodeRequest, encodeRequestId } from './protocol.js';
import { ServerTable, type FreelanceStrategy, type ServerEntry, type ServerState } from './servers.js';

/** Options of `new FreelanceClient(options)`; `freelanceClientDefaults` holds the defaults. */
export interface FreelanceClientOptions {
  /** Server endpoints (each server's routing id), in priority order. */
  servers: readonly string[];
  /**
   * `priority`: the first live server in order (the book's model three; with retries, model one's
   * sequential failover). `round-robin`: live servers in turn. `all`: every live server at once,
   * first reply wins (the book's model two). @default 'priority'
   */
  strategy?: FreelanceStrategy;
  /** A request's whole budget, waiting for a live server included. @default 3000 (GLOBAL_TIMEOUT) */
  timeoutMs?: number;
  /** Wait this long for one server's reply before resending to the next live server. @default 1000 */
  attemptTimeoutMs?: number;
  /** Resends after the first send (on server death or attempt timeout). @default 2 */
  retries?: number;
  /** Ping a server after this long without hearing from it. @default 2000 (PING_INTERVAL) */
  pingIntervalMs?: number;
  /** A server silent this long is dead. @default 6000 (SERVER_TTL) */
  serverTtlMs?: number;
  /** Ping period for servers not (or no longer) connected; also the agent's tick. @default 100 */
  connectPingMs?: number;
  /**
   * Messages queued to one server at most (libzmq's send high-water mark, per connection). Past it
   * a send fails at once (EAGAIN): counted in `stats.refusedSends`, one warning per second, and
   * the request is resent to the next live server after `attemptTimeoutMs` (or times out). 1,000
   * carries the book's workloads (flclient's requests one at a time); raise it to pipeline more
   * than that to one server. @default 1000
   */
  sendHighWaterMark?: number;
  /** This client's routing id. @default random (libzmq) */
  routingId?: string;
  /** @default systemClock */
  clock?: Clock;
  /**
   * CURVE to every server (which then share one key pair): this side's keys and the servers'
   * public key. @default undefined (plain)
   */
  security?: SecurityOptions | undefined;
  /** Parent logger. @default silent */
  logger?: Logger;
}

export const freelanceClientDefaults = {
  strategy: 'priority',
  timeoutMs: 3000,
  attemptTimeoutMs: 1000,
  retries: 2,
  pingIntervalMs: 2000,
  serverTtlMs: 6000,
  connectPingMs: 100,
  sendHighWaterMark: 1000,
} as const satisfies Partial<FreelanceClientOptions>;

/** Per-call options of `request()`. */
export interface FreelanceRequestOptions {
  /** Abandon the request: it rejects with `AbortError` and a late reply is dropped. */
  signal?: AbortSignal;
  /** Overrides the client's `timeoutMs` for this request. */
  timeoutMs?: number;
}

/** One server as the client sees it. */
export interface FreelanceServerStatus {
  readonly endpoint: string;
  readonly state: ServerState;
  readonly alive: boolean;
  /** Requests sent to it, replies received from it, attempts in flight on it now. */
  readonly sent: number;
  readonly replies: number;
  readonly inFlight: number;
}

/** Counters of one `FreelanceClient`, live fields updated in place. */
export interface FreelanceClientStats {
  requests: number;
  replies: number;
  /** Sends after the first, on a server's death or an attempt timeout. */
  resends: number;
  timeouts: number;
  /** Replies for a request already answered (or unknown): dropped. */
  duplicates: number;
  /** Times a live server was declared dead. */
  serverDeaths: number;
  malformed: number;
  /** Sends (requests or pings) refused at a server's `sendHighWaterMark` (EAGAIN); requests are resent later. */
  refusedSends: number;
}

interface Pending {
  readonly id: number;
  readonly control: Buffer;
  readonly body: Frames;
  readonly tried: string[];
  attempts: number;
  /** Servers of the current attempt. */
  targets: ServerEntry[];
  attemptTimer: TimerHandle | undefined;
  deadline: TimerHandle | undefined;
  readonly resolve: (reply: Buffer[]) => void;
  readonly reject: (err: Error) => void;
  readonly cleanup: () => void;
}

export class FreelanceClient implements AsyncDisposable {
  readonly stats: FreelanceClientStats = {
    requests: 0,
    replies: 0,
    resends: 0,
    timeouts: 0,
    duplicates: 0,
    serverDeaths: 0,
    malformed: 0,
    refusedSends: 0,
  };
  readonly #options: Required<Omit<FreelanceClientOptions, 'routingId' | 'logger' | 'servers' | 'security'>>;
  readonly #channel: Channel<zmq.Router>;
  readonly #table: ServerTable;
  readonly #log: Logger;
  readonly #clock: Clock;
  /** Refused sends: one warning per second at most. */
  readonly #refusals: WarningLimiter;
  readonly #pending = new Map<number, Pending>();
  /** Requests waiting for a live server, in arrival order. */
  readonly #waiting = new Set<Pending>();
  #nextId = 1;
  #tick: TimerHandle | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: FreelanceClientOptions) {
    const o = { ...freelanceClientDefaults, clock: systemClock, ...definedOnly(options) };
    for (const name of [
      'timeoutMs',
      'attemptTimeoutMs',
      'pingIntervalMs',
      'serverTtlMs',
      'connectPingMs',
      'sendHighWaterMark',
    ] as const) {
      if (!(o[name] > 0)) throw new FreelanceOptionsError(`${name} must be > 0, got ${o[name]}`);
    }
    if (!Number.isInteger(o.retries) || o.retries < 0) {
      throw new FreelanceOptionsError(`retries must be an integer >= 0, got ${o.retries}`);
    }
    if (!['priority', 'round-robin', 'all'].includes(o.strategy)) {
      throw new FreelanceOptionsError(`strategy must be priority, round-robin or all, got ${String(o.strategy)}`);
    }
    this.#options = o;
    this.#clock = o.clock;
    this.#log = componentLogger(options.logger, { component: 'freelance-client' });
    this.#refusals = new WarningLimiter(this.#log, this.#clock, 1);
    this.#table = new ServerTable(o);
    const router = new zmq.Router({
      linger: 0,
      mandatory: true,
      sendTimeout: 0,
      sendHighWaterMark: o.sendHighWaterMark,
      ...(options.routingId === undefined ? {} : { routingId: options.routingId }),
    });
    applyConnectSecurity(router, options.security);
    this.#channel = new Channel(router, {
      name: 'freelance-client',
      logger: this.#log,
      onSendError: (err, message) => this.#onSendError(err, message),
    });
    void this.#channel.start((message) => this.#onMessage(message));
    for (const endpoint of options.servers) this.connect(endpoint);
    this.#onTick();
  }

  /** Connect to one more server (lowest priority). No-op for a known endpoint. */
  connect(endpoint: string): void {
    if (this.#channel.isClosed) throw new ClosedError('freelance client');
    if (this.#table.entries.some((e) => e.endpoint === endpoint)) return;
    this.#channel.socket.connect(endpoint);
    this.#table.add(endpoint, this.#clock.now());
  }

  /** Each server's liveness and counters, in priority order. */
  get servers(): FreelanceServerStatus[] {
    return this.#table.entries.map((e) => ({
      endpoint: e.endpoint,
      state: e.state,
      alive: e.state === 'alive',
      sent: e.sent,
      replies: e.replies,
      inFlight: e.inFlight.size,
    }));
  }

  /** Requests not yet answered (in flight or waiting for a live server). */
  get pending(): number {
    return this.#pending.size;
  }

  /**
   * Send `body` to a live server and resolve with the reply frames. Rejects with
   * `FreelanceTimeoutError` (naming the servers tried), `AbortError` or `ClosedError`.
   */
  request(body: Frames, options: FreelanceRequestOptions = {}): Promise<Buffer[]> {
    if (this.#channel.isClosed) return Promise.reject(new ClosedError('freelance client'));
    const { signal } = options;
    if (signal?.aborted === true) return Promise.reject(new AbortError('request aborted', { cause: signal.reason }));
    const timeoutMs = options.timeoutMs ?? this.#options.timeoutMs;
    const id = this.#nextId++;
    this.stats.requests++;
    return new Promise<Buffer[]>((resolve, reject) => {
      const onAbort = (): void => this.#fail(p, new AbortError('request aborted', { cause: signal?.reason }));
      const p: Pending = {
        id,
        control: encodeRequestId(id),
        body,
        tried: [],
        attempts: 0,
        targets: [],
        attemptTimer: undefined,
        deadline: undefined,
        resolve,
        reject,
        cleanup: () => signal?.removeEventListener('abort', onAbort),
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      p.deadline = this.#clock.setTimeout(() => {
        this.stats.timeouts++;
        this.#fail(p, new FreelanceTimeoutError(p.tried, p.attempts, `within timeoutMs=${timeoutMs}`));
      }, timeoutMs);
      this.#pending.set(id, p);
      this.#dispatch(p);
    });
  }

  /** Send `p`'s next attempt, or park it until a server is alive, or fail it when out of retries. */
  #dispatch(p: Pending): void {
    this.#detach(p);
    if (p.attempts > this.#options.retries) {
      this.stats.timeouts++;
      this.#fail(p, new FreelanceTimeoutError(p.tried, p.attempts, 'from any server'));
      return;
    }
    const strategy = this.#options.strategy;
    const targets =
      strategy === 'all' ? this.#table.alive() : [this.#table.pick(strategy, new Set(p.tried))].filter(isDefined);
    if (targets.length === 0) {
      this.#waiting.add(p);
      return;
    }
    if (p.attempts > 0) this.stats.resends++;
    p.attempts++;
    p.targets = targets;
    for (const target of targets) {
      p.tried.push(target.endpoint);
      target.inFlight.add(p.id);
      target.sent++;
      this.#channel.post(encodeRequest(target.id, p.control, p.body));
    }
    p.attemptTimer = this.#clock.setTimeout(() => {
      p.attemptTimer = undefined;
      this.#log.debug({ id: p.id, servers: targets.map((t) => t.endpoint) }, 'attempt timed out');
      this.#dispatch(p);
    }, this.#options.attemptTimeoutMs);
  }

  /** Take `p` off its current servers and timers (not its deadline). */
  #detach(p: Pending): void {
    for (const target of p.targets) target.inFlight.delete(p.id);
    p.targets = [];
    if (p.attemptTimer !== undefined) this.#clock.clearTimeout(p.attemptTimer);
    p.attemptTimer = undefined;
    this.#waiting.delete(p);
  }

  #settle(p: Pending): boolean {
    if (this.#pending.get(p.id) !== p) return false;
    this.#pending.delete(p.id);
    this.#detach(p);
    if (p.deadline !== undefined) this.#clock.clearTimeout(p.deadline);
    p.cleanup();
    return true;
  }

  #fail(p: Pending, err: Error): void {
    if (this.#settle(p)) p.reject(err);
  }

  #onMessage(message: Message): void {
    let inbound;
    try {
      inbound = decodeClientInbound(message);
    } catch (caught) {
      this.stats.malformed++;
      this.#log.warn({ err: toError(caught), frames: describe(message) }, 'malformed message dropped');
      return;
    }
    const entry = this.#table.lookup(inbound.server);
    if (entry === undefined) {
      this.stats.malformed++;
      this.#log.warn({ frames: describe(message) }, 'message from an unknown server dropped');
      return;
    }
    this.#heardFrom(entry);
    if (inbound.type === 'pong') return;
    const id = decodeRequestId(inbound.control);
    const p = id === undefined ? undefined : this.#pending.get(id);
    if (p === undefined) {
      this.stats.duplicates++;
      return;
    }
    entry.replies++;
    this.stats.replies++;
    this.#settle(p);
    p.resolve(inbound.body);
  }

  #heardFrom(entry: ServerEntry): void {
    if (!this.#table.seen(entry, this.#clock.now())) return;
    this.#log.info({ server: entry.endpoint }, 'server alive');
    if (this.#waiting.size === 0) return;
    const waiting = [...this.#waiting];
    this.#waiting.clear();
    for (const p of waiting) this.#dispatch(p);
  }

  #serverLost(entry: ServerEntry, reason: string): void {
    if (this.#table.lost(entry, this.#clock.now())) {
      this.stats.serverDeaths++;
      this.#log.warn({ server: entry.endpoint, reason, inFlight: entry.inFlight.size }, 'server dead');
    }
    if (entry.inFlight.size === 0) return;
    // Resend what was on it, unless another server of the same attempt (strategy 'all') is alive.
    for (const id of [...entry.inFlight]) {
      entry.inFlight.delete(id);
      const p = this.#pending.get(id);
      if (p === undefined) continue;
      p.targets = p.targets.filter((t) => t !== entry);
      if (!p.targets.some((t) => t.state === 'alive')) this.#dispatch(p);
    }
  }

  #onSendError(err: Error, message: Frames): void {
    const [server] = message;
    const entry = server === undefined ? undefined : this.#table.lookup(toBuffer(server));
    if (entry === undefined) return;
    const code = (err as { code?: unknown }).code;
    if (code === 'EHOSTUNREACH') this.#serverLost(entry, 'unreachable');
    else if (code === 'EAGAIN') {
      this.stats.refusedSends++;
      this.#refusals.warn(
        {
          server: entry.endpoint,
          sendHighWaterMark: this.#options.sendHighWaterMark,
          refusedSends: this.stats.refusedSends,
        },
        'send refused at sendHighWaterMark; the request is resent after attemptTimeoutMs',
      );
    } else this.#log.debug({ err, server: entry.endpoint }, 'send failed');
  }

  #onTick(): void {
    if (this.#channel.isClosed) return;
    const now = this.#clock.now();
    const { ping, expired } = this.#table.due(now);
    for (const entry of expired) this.#serverLost(entry, `silent for serverTtlMs=${this.#options.serverTtlMs}`);
    for (const entry of ping) this.#channel.post(encodePing(entry.id));
    this.#tick = this.#clock.setTimeout(() => this.#onTick(), this.#options.connectPingMs);
  }

  /** Reject every unanswered request with `ClosedError` and close the socket. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#tick !== undefined) this.#clock.clearTimeout(this.#tick);
      const closed = new ClosedError('freelance client');
      this.#refusals.flush();
      for (const p of [...this.#pending.values()]) this.#fail(p, closed);
      await this.#channel.close();
    })();
    return this.#closing;
  }

  /** Resolves once the client has closed: `undefined`, or the error that ended its receive loop. */
  closed(): Promise<void | Error> {
    return this.#channel.closed();
  }

  /** Same as `close()`, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

function isDefined<T>(value: T | undefined): value is T {
  return value !== undefined;
}
