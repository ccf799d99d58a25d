/**
 * `FreelanceClient`: the book's `flcliapi` agent, as an object on the event loop. One ROUTER
 * connected to every server; servers are pinged while idle and lost after `peerTtlMs` of silence,
 * or at once when libzmq reports them unreachable (the ROUTER is `mandatory`). Many requests are
 * in flight at once (see `Requests`), each with its id in the control frame and its own call
 * budget; a request whose server is lost or times out is resent to the next connected server.
 */
import * as zmq from 'zeromq';
import {
  ClosedError,
  Component,
  toError,
  type Clock,
  type Frames,
  type Logger,
  type Message,
  type RequestOptions,
  type TimerHandle,
} from '@zpatterns/core';
import {
  applyConnectSecurity,
  Channel,
  componentLogger,
  describe,
  toBuffer,
  failSpan,
  SpanKinds,
  startSpan,
  WarningLimiter,
} from '@zpatterns/core/internal';
import {
  resolveClientOptions,
  type FreelanceClientOptions,
  type FreelanceClientStats,
  type FreelanceClientStatus,
  type FreelanceServerInfo,
  type ResolvedClientOptions,
} from './client-options.js';
import { decodeClientInbound, decodeRequestId, encodePing } from './codec.js';
import { Requests } from './requests.js';
import { ServerTable, type ServerEntry } from './servers.js';

/**
 * The Freelance client agent (the book's `flcliapi`): one ROUTER connected to every server, which
 * pings them, knows which have answered, and sends each request to one of those, resending to the
 * next when a server is lost or an attempt times out. `new FreelanceClient(options)` validates the
 * options (`InvalidArgumentError`) and opens nothing; `start()` connects to every server and sends
 * the first PINGs, and resolves then ("ready": connected, pinging). Requests made before a server
 * has answered wait for the first one, within their `timeoutMs`. `status()` reports `connected`
 * and `disconnected` for each server.
 */
export class FreelanceClient extends Component<FreelanceClientStatus> {
  readonly #stats: FreelanceClientStats = {
    requests: 0,
    replies: 0,
    retries: 0,
    timeouts: 0,
    duplicates: 0,
    serverDeaths: 0,
    malformed: 0,
    refusedSends: 0,
  };
  readonly #options: ResolvedClientOptions;
  #channel: Channel<zmq.Router> | undefined;
  readonly #table: ServerTable;
  readonly #requests: Requests;
  readonly #log: Logger;
  readonly #clock: Clock;
  /** Refused sends: one warning per second at most. */
  readonly #refusals: WarningLimiter;
  #tick: TimerHandle | undefined;

  constructor(options: FreelanceClientOptions) {
    super();
    const o = resolveClientOptions(options);
    this.#options = o;
    this.#clock = o.clock;
    this.#log = componentLogger(o.logger, { component: 'freelance-client' });
    this.#refusals = new WarningLimiter(this.#log, this.#clock, 1);
    this.#table = new ServerTable({
      servers: options.servers, // checked: a non-empty array
      strategy: o.strategy,
      heartbeatIntervalMs: o.heartbeatIntervalMs,
      peerTtlMs: o.peerTtlMs,
      connectPingMs: o.connectPingMs,
      clock: o.clock,
      onChange: (entry, state, silentMs) =>
        state === 'alive' ? this.#serverConnected(entry) : this.#serverLost(entry, silentMs),
    });
    this.#requests = new Requests({
      table: this.#table,
      strategy: o.strategy,
      defaults: o,
      clock: o.clock,
      stats: this.#stats,
      log: this.#log,
      send: (message) => this.#channel?.post(message),
    });
  }

  /** Open the ROUTER, connect to every server and send the first PINGs. */
  protected override async onStart(): Promise<void> {
    const router = new zmq.Router({
      linger: 0,
      mandatory: true,
      sendTimeout: 0,
      sendHighWaterMark: this.#options.sendHighWaterMark,
      ...(this.#options.routingId === undefined ? {} : { routingId: this.#options.routingId }),
    });
    const channel = new Channel(router, {
      name: 'freelance-client',
      logger: this.#log,
      onSendError: (err, message) => this.#onSendError(err, message),
    });
    this.#channel = channel;
    applyConnectSecurity(router, this.#options.security);
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
    return this.#requests.size;
  }

  /**
   * Send `body` to a connected server and resolve with the reply frames. `timeoutMs` bounds the
   * whole call, the wait for a server included; each attempt waits `attemptTimeoutMs` before the
   * request goes to the next server, at most `retries` times (each defaults to the client's).
   * Rejects with `TimeoutError` (`ERR_TIMEOUT`, with `attempts`, its message naming the servers
   * tried), `AbortError` when `signal` fires, `InvalidArgumentError` for a bad option,
   * `NotStartedError` before `start()` and `ClosedError` once closing.
   */
  async request(body: Frames, options: RequestOptions = {}): Promise<Buffer[]> {
    this.assertRunning();
    // With OpenTelemetry installed: one CLIENT span per call, an event per server tried, the outcome.
    const span = startSpan('@zpatterns/freelance', 'freelance', SpanKinds.client, { 'rpc.system': 'freelance' });
    const replied = this.#requests.call(body, options, span);
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
    this.#requests.answered(entry, decodeRequestId(inbound.control), inbound.body);
  }

  /** `entry` answered (first, or first after it was lost): report it and send what waited for a server. */
  #serverConnected(entry: ServerEntry): void {
    this.#log.info({ server: entry.endpoint }, 'server connected');
    this.emit({ type: 'connected', peer: entry.endpoint });
    this.#requests.serverConnected();
  }

  /** The table lost `entry`: report it and resend what was on it. */
  #serverLost(entry: ServerEntry, silentMs: number): void {
    this.#stats.serverDeaths++;
    this.#log.warn({ server: entry.endpoint, silentMs, inFlight: entry.inFlight.size }, 'server lost');
    this.emit({ type: 'disconnected', peer: entry.endpoint, reason: 'silent', silentMs });
    this.#requests.serverLost(entry);
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
    this.#refusals.flush();
    this.#requests.failAll(new ClosedError('FreelanceClient'));
    await this.#channel?.close();
  }
}
