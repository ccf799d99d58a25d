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
  Component,
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
  type ServerDeadStatus,
  type ServerAliveStatus,
} from '@zpatterns/core';
import { failSpan, SpanKinds, startSpan, type TraceSpan } from '@zpatterns/core/internal';
import { FreelanceOptionsError, FreelanceTimeoutError } from './errors.js';
import { decodeClientInbound, decodeRequestId, encodePing, encodeRequest, encodeRequestId } from './protocol.js';
import { ServerTable, type FreelanceStrategy, type ServerEntry, type ServerState } from './servers.js';

/** Options of `new FreelanceClient(options)`; `freelanceClientDefaults` holds the defaults. */
export interface FreelanceClientOptions {
  /** Server endpoints (each server's routing id), in priority order; at least one. */
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
  /** Time source for deadlines, attempt timers, pings and server expiry. @default systemClock */
  clock?: Clock;
  /**
   * CURVE to every server (which then share one key pair): this side's keys and the servers'
   * public key. @default undefined (plain)
   */
  security?: SecurityOptions | undefined;
  /** Parent logger. @default silent */
  logger?: Logger;
}

/** The client's defaults: the book's timings (GLOBAL_TIMEOUT, PING_INTERVAL, SERVER_TTL). */
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
  signal?: AbortSignal | undefined;
  /** Bounds the whole request (every attempt and the wait for a live server); overrides the client's `timeoutMs`. */
  timeoutMs?: number | undefined;
  /** Overrides the client's `attemptTimeoutMs` for this request. */
  attemptTimeoutMs?: number | undefined;
}

/** One server as the client sees it, in `client.servers`. */
export interface FreelanceServerInfo {
  /** The server's endpoint, which is also its routing id. */
  readonly endpoint: string;
  /** `connecting` until its first message, then `alive`, or `dead` after silence or an unreachable send. */
  readonly state: ServerState;
  /** `state === 'alive'`. */
  readonly alive: boolean;
  /** Requests sent to it (every attempt counts). */
  readonly sent: number;
  /** Replies received from it. */
  readonly replies: number;
  /** Attempts in flight on it now. */
  readonly inFlight: number;
}

/**
 * The client's status events, beside `started` and `closed` (see `status()`): a server comes
 * alive (its first PONG or reply, or its first after it was dead), or dies (silent for
 * `serverTtlMs`, or a send to it refused as unreachable). Requests go only to live servers.
 */
export type FreelanceClientStatus = ServerAliveStatus | ServerDeadStatus;

/** Counters of one `FreelanceClient`, as a snapshot (see `stats`). */
export interface FreelanceClientStats {
  /** Requests made (`request()` calls accepted). */
  requests: number;
  /** Requests answered. */
  replies: number;
  /** Sends after the first, on a server's death or an attempt timeout. */
  resends: number;
  /** Requests that ran out of time or attempts (`FreelanceTimeoutError`). */
  timeouts: number;
  /** Replies for a request already answered (or unknown): dropped. */
  duplicates: number;
  /** Times a live server was declared dead. */
  serverDeaths: number;
  /** Messages that were not 10/FLP, or came from an unknown server: dropped. */
  malformed: number;
  /** Sends (requests or pings) refused at a server's `sendHighWaterMark` (EAGAIN); requests are resent later. */
  refusedSends: number;
}

interface Pending {
  readonly id: number;
  readonly control: Buffer;
  readonly body: Frames;
  readonly tried: string[];
  readonly attemptTimeoutMs: number;
  /** The request's CLIENT span, when OpenTelemetry is installed. */
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

/**
 * The Freelance client agent (the book's `flcliapi`): one ROUTER connected to every server, which
 * pings them, knows which are alive, and sends each request to a live one, resending to the next
 * on a server's death or an attempt timeout. `new FreelanceClient(options)` validates the options
 * (`FreelanceOptionsError`) and opens nothing; `start()` connects to every server and sends the
 * first PINGs, and resolves then ("ready": connected, pinging). Requests made before a server has
 * answered wait for the first live one, within their `timeoutMs`. `status()` reports
 * `server-alive` and `server-dead` as the client sees its servers.
 */
export class FreelanceClient extends Component<FreelanceClientStatus> {
  readonly #stats: FreelanceClientStats = {
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
  readonly #routingId: string | undefined;
  readonly #security: SecurityOptions | undefined;
  #channel: Channel<zmq.Router> | undefined;
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

  constructor(options: FreelanceClientOptions) {
    super();
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
    if (!Array.isArray(options.servers) || options.servers.length === 0) {
      throw new FreelanceOptionsError('servers must list at least one endpoint');
    }
    this.#options = o;
    this.#clock = o.clock;
    this.#routingId = options.routingId;
    this.#security = options.security;
    this.#log = componentLogger(options.logger, { component: 'freelance-client' });
    this.#refusals = new WarningLimiter(this.#log, this.#clock, 1);
    this.#table = new ServerTable({
      servers: options.servers,
      strategy: o.strategy,
      pingIntervalMs: o.pingIntervalMs,
      serverTtlMs: o.serverTtlMs,
      connectPingMs: o.connectPingMs,
      clock: o.clock,
      onChange: (entry, state, silentMs) =>
        state === 'alive' ? this.#serverAlive(entry) : this.#serverDead(entry, silentMs),
    });
  }

  /** Open the ROUTER, connect to every server and send the first PINGs. */
  protected override async onStart(): Promise<void> {
    const router = new zmq.Router({
      linger: 0,
      mandatory: true,
      sendTimeout: 0,
      sendHighWaterMark: this.#options.sendHighWaterMark,
      ...(this.#routingId === undefined ? {} : { routingId: this.#routingId }),
    });
    const channel = new Channel(router, {
      name: 'freelance-client',
      logger: this.#log,
      onSendError: (err, message) => this.#onSendError(err, message),
    });
    this.#channel = channel;
    applyConnectSecurity(router, this.#security);
    void channel.start((message) => this.#onMessage(message)).then(() => this.#loopEnded(channel));
    for (const entry of this.#table.entries) router.connect(entry.endpoint);
    this.#onTick();
  }

  /** The receive loop ended: after `close()` that is expected, otherwise the client fails with its error. */
  async #loopEnded(channel: Channel<zmq.Router>): Promise<void> {
    if (channel.socket.closed) return;
    await channel.close();
    const error = await channel.closed();
    if (error !== undefined) void this.fail(error);
  }

  /** Each server's liveness and counters, in priority order (a fresh snapshot on every read). */
  get servers(): FreelanceServerInfo[] {
    return this.#table.entries.map((e) => {
      const state = this.#table.state(e);
      return {
        endpoint: e.endpoint,
        state,
        alive: state === 'alive',
        sent: e.sent,
        replies: e.replies,
        inFlight: e.inFlight.size,
      };
    });
  }

  /** A snapshot of the counters; read it again for fresh figures. */
  get stats(): FreelanceClientStats {
    return { ...this.#stats };
  }

  /** Requests not yet answered (in flight or waiting for a live server). */
  get pending(): number {
    return this.#pending.size;
  }

  /**
   * Send `body` to a live server and resolve with the reply frames. `timeoutMs` bounds the whole
   * call; each attempt waits `attemptTimeoutMs` before the request goes to the next live server,
   * at most `retries` times. Rejects with `FreelanceTimeoutError` (`ERR_TIMEOUT`, naming the
   * servers tried), `AbortError` when `signal` fires, `NotStartedError` before `start()` and
   * `ClosedError` once closing.
   */
  async request(body: Frames, options: FreelanceRequestOptions = {}): Promise<Buffer[]> {
    this.assertRunning();
    const { signal } = options;
    if (signal?.aborted === true) throw new AbortError('request aborted', { cause: signal.reason });
    const timeoutMs = options.timeoutMs ?? this.#options.timeoutMs;
    const attemptTimeoutMs = options.attemptTimeoutMs ?? this.#options.attemptTimeoutMs;
    if (!(timeoutMs > 0)) throw new FreelanceOptionsError(`timeoutMs must be > 0, got ${timeoutMs}`);
    if (!(attemptTimeoutMs > 0)) {
      throw new FreelanceOptionsError(`attemptTimeoutMs must be > 0, got ${attemptTimeoutMs}`);
    }
    // With OpenTelemetry installed: one CLIENT span per call, an event per server tried, the outcome.
    const span = startSpan('@zpatterns/freelance', 'freelance', SpanKinds.client, { 'rpc.system': 'freelance' });
    const replied = this.#send(body, timeoutMs, attemptTimeoutMs, span, signal);
    if (span === undefined) return replied;
    try {
      const reply = await replied;
      span.end();
      return reply;
    } catch (err) {
      failSpan(span, err);
      throw err;
    }
  }

  #send(
    body: Frames,
    timeoutMs: number,
    attemptTimeoutMs: number,
    span: TraceSpan | undefined,
    signal: AbortSignal | undefined,
  ): Promise<Buffer[]> {
    const id = this.#nextId++;
    this.#stats.requests++;
    return new Promise<Buffer[]>((resolve, reject) => {
      const onAbort = (): void => this.#fail(p, new AbortError('request aborted', { cause: signal?.reason }));
      const p: Pending = {
        id,
        control: encodeRequestId(id),
        body,
        tried: [],
        attemptTimeoutMs,
        span,
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
        this.#stats.timeouts++;
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
      this.#stats.timeouts++;
      this.#fail(p, new FreelanceTimeoutError(p.tried, p.attempts, 'from any server'));
      return;
    }
    const channel = this.#channel;
    if (channel === undefined) return;
    const targets =
      this.#options.strategy === 'all' ? this.#table.alive() : [this.#table.pick(new Set(p.tried))].filter(isDefined);
    if (targets.length === 0) {
      this.#waiting.add(p);
      return;
    }
    if (p.attempts > 0) this.#stats.resends++;
    p.attempts++;
    p.targets = targets;
    p.span?.setAttribute('freelance.attempts', p.attempts);
    for (const target of targets) {
      p.span?.addEvent('attempt', { 'freelance.attempt': p.attempts, 'server.address': target.endpoint });
      p.tried.push(target.endpoint);
      target.inFlight.add(p.id);
      target.sent++;
      channel.post(encodeRequest(target.id, p.control, p.body));
    }
    p.attemptTimer = this.#clock.setTimeout(() => {
      p.attemptTimer = undefined;
      this.#log.debug({ id: p.id, servers: targets.map((t) => t.endpoint) }, 'attempt timed out');
      this.#dispatch(p);
    }, p.attemptTimeoutMs);
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
      this.#stats.malformed++;
      this.#log.warn({ err: toError(caught), frames: describe(message) }, 'malformed message dropped');
      return;
    }
    const entry = this.#table.lookup(inbound.server);
    if (entry === undefined) {
      this.#stats.malformed++;
      this.#log.warn({ frames: describe(message) }, 'message from an unknown server dropped');
      return;
    }
    this.#table.seen(entry);
    if (inbound.type === 'pong') return;
    const id = decodeRequestId(inbound.control);
    const p = id === undefined ? undefined : this.#pending.get(id);
    if (p === undefined) {
      this.#stats.duplicates++;
      return;
    }
    entry.replies++;
    this.#stats.replies++;
    p.span?.setAttribute('server.address', entry.endpoint);
    this.#settle(p);
    p.resolve(inbound.body);
  }

  /** The table saw `entry` come (back) to life: report it and send what waited for a server. */
  #serverAlive(entry: ServerEntry): void {
    this.#log.info({ server: entry.endpoint }, 'server alive');
    this.emit({ type: 'server-alive', server: entry.endpoint });
    if (this.#waiting.size === 0) return;
    const waiting = [...this.#waiting];
    this.#waiting.clear();
    for (const p of waiting) this.#dispatch(p);
  }

  /** The table declared `entry` dead: report it and resend what was on it. */
  #serverDead(entry: ServerEntry, silentMs: number): void {
    this.#stats.serverDeaths++;
    this.#log.warn({ server: entry.endpoint, silentMs, inFlight: entry.inFlight.size }, 'server dead');
    this.emit({ type: 'server-dead', server: entry.endpoint, silentMs });
    // Resend what was on it, unless another server of the same attempt (strategy 'all') is alive.
    for (const id of [...entry.inFlight]) {
      entry.inFlight.delete(id);
      const p = this.#pending.get(id);
      if (p === undefined) continue;
      p.targets = p.targets.filter((t) => t !== entry);
      if (!p.targets.some((t) => this.#table.isAlive(t))) this.#dispatch(p);
    }
  }

  #onSendError(err: Error, message: Frames): void {
    const [server] = message;
    const entry = server === undefined ? undefined : this.#table.lookup(toBuffer(server));
    if (entry === undefined) return;
    const code = (err as { code?: unknown }).code;
    if (code === 'EHOSTUNREACH') this.#table.lost(entry);
    else if (code === 'EAGAIN') {
      this.#stats.refusedSends++;
      this.#refusals.warn(
        {
          server: entry.endpoint,
          sendHighWaterMark: this.#options.sendHighWaterMark,
          refusedSends: this.#stats.refusedSends,
        },
        'send refused at sendHighWaterMark; the request is resent after attemptTimeoutMs',
      );
    } else this.#log.debug({ err, server: entry.endpoint }, 'send failed');
  }

  #onTick(): void {
    const channel = this.#channel;
    if (channel === undefined || channel.isClosed) return;
    for (const entry of this.#table.duePings()) channel.post(encodePing(entry.id));
    this.#tick = this.#clock.setTimeout(() => this.#onTick(), this.#options.connectPingMs);
  }

  /** Reject every unanswered request with `ClosedError`, stop pinging and close the socket. */
  protected override async onClose(): Promise<void> {
    if (this.#tick !== undefined) this.#clock.clearTimeout(this.#tick);
    this.#tick = undefined;
    this.#table.stop();
    const closed = new ClosedError('FreelanceClient');
    this.#refusals.flush();
    for (const p of [...this.#pending.values()]) this.#fail(p, closed);
    await this.#channel?.close();
  }
}

function isDefined<T>(value: T | undefined): value is T {
  return value !== undefined;
}
