/**
 * Lazy Pirate: reliable request-reply from the client side alone, against any REP server.
 *
 *   client (REQ) ---- request ----> server (REP)
 *        |  no reply within attemptTimeoutMs?
 *        |  close the REQ ("old socket is confused"), open a new one (next server, if several),
 *        |  resend the same request; after `retries` resends, reject with TimeoutError
 *        <----------- reply --------
 *
 * One request is outstanding at a time (REQ semantics); concurrent `request()` calls wait their
 * turn in call order. The socket is kept between requests and replaced only after a timeout or
 * an abort, exactly as lpclient does. Core's `CallBudget` owns the whole call's deadline, each
 * attempt's wait, the resends and the caller's signal.
 */
import * as zmq from 'zeromq';
import {
  CallBudget,
  ClosedError,
  Component,
  deadline,
  resolveOptions,
  sleep,
  TimeoutError,
  type Clock,
  type Frames,
  type Logger,
  type Message,
  type RequestOptions,
  type SecurityOptions,
} from '@zpatterns/core';
import {
  applyConnectSecurity,
  Channel,
  componentLogger,
  describe,
  ServerRotation,
  toBuffer,
} from '@zpatterns/core/internal';
import {
  lazyPirateClientDefaults,
  lazyPirateClientRules,
  type LazyPirateClientOptions,
  type LazyPirateClientStats,
  type LazyPirateClientStatus,
} from './lazy-pirate-options.js';
import { encodeSequence, isSequence } from './protocol.js';

interface Connection {
  readonly server: string;
  /** This socket's number, as counted in `stats.sockets`: the events' `session`. */
  readonly session: number;
  readonly channel: Channel<zmq.Request>;
  waiter: { resolve: (m: Message) => void; reject: (err: Error) => void } | undefined;
  /** Whether the server has answered on this socket. */
  answered: boolean;
}

/**
 * Lazy Pirate (the book's lpclient): reliable request-reply from the client side alone, against
 * any REP server or queue frontend. `new LazyPirateClient({ servers })` opens nothing; `start()`
 * opens the first REQ socket and resolves once it is connecting to the first server (ready to
 * send). Each attempt waits `attemptTimeoutMs` for a reply; on a timeout the REQ socket is
 * discarded, a new one is opened (on the next server, when several are given, through core's
 * `ServerRotation`) and the request is resent, at most `retries` times; then `request()` rejects
 * with core's `TimeoutError` (its `attempts` the sends made), as it does when the whole call's
 * `timeoutMs` runs out. Delivery is at least once: make requests idempotent. One request is in
 * flight at a time; further `request()` calls queue in call order. Throws `InvalidArgumentError`
 * for an empty server list or a bad option.
 */
export class LazyPirateClient extends Component<LazyPirateClientStatus> {
  readonly #stats: LazyPirateClientStats = {
    requests: 0,
    replies: 0,
    retries: 0,
    timeouts: 0,
    malformed: 0,
    sockets: 0,
    failovers: 0,
  };
  readonly #name: string;
  readonly #servers: readonly string[];
  readonly #o: {
    attemptTimeoutMs: number;
    timeoutMs: number | undefined;
    retries: number;
    sequenceCheck: boolean;
    settleDelayMs: number;
    lingerMs: number;
    clock: Clock;
  };
  readonly #security: SecurityOptions | undefined;
  readonly #log: Logger;
  readonly #rotation: ServerRotation<string>;
  #conn: Connection | undefined;
  #sequence = 0;
  #waiting = false;
  /** Failed attempts since a server last answered: the `attempt` of `reconnecting`. */
  #failures = 0;
  /** Resolves when every request issued so far has finished: the turn of the next one. */
  #tail: Promise<void> = Promise.resolve();

  constructor(options: LazyPirateClientOptions) {
    super();
    this.#name = new.target.name;
    const servers = typeof options.servers === 'string' ? [options.servers] : [...options.servers];
    const { logger, security, ...o } = resolveOptions(
      this.#name,
      { ...options, servers },
      lazyPirateClientDefaults,
      lazyPirateClientRules,
    );
    this.#servers = servers;
    this.#o = o;
    this.#security = security;
    this.#rotation = new ServerRotation(servers);
    this.#log = componentLogger(logger, { component: 'lazy-pirate-client' });
  }

  /** The endpoint the next attempt goes to. */
  get server(): string {
    return this.#rotation.current;
  }

  /** Whether a request is in flight. */
  get waiting(): boolean {
    return this.#waiting;
  }

  /** The next sequence number `sequenceCheck` will use minus one (0 before the first request). */
  get sequence(): number {
    return this.#sequence;
  }

  /** A snapshot of the counters; read it again for fresh figures. */
  get stats(): LazyPirateClientStats {
    return { ...this.#stats };
  }

  /** Open the first REQ socket, connecting to the first server. */
  protected async onStart(): Promise<void> {
    this.#connection();
  }

  /** Reject the request in flight with `ClosedError` and close the socket. */
  protected async onClose(): Promise<void> {
    const conn = this.#conn;
    this.#conn = undefined;
    if (conn !== undefined) {
      conn.waiter?.reject(new ClosedError(this.#name));
      conn.waiter = undefined;
      await conn.channel.close();
    }
  }

  /**
   * Send `frames` and resolve with the reply frames. Resends after each `attemptTimeoutMs`
   * without a reply; rejects with core's `TimeoutError` (`ERR_TIMEOUT`, `attempts` the sends made)
   * after `retries` resends (`retries + 1` sends) or when `timeoutMs` runs out, with `AbortError`
   * when `signal` fires (also when it has already fired), with `InvalidArgumentError` for a bad
   * option, `NotStartedError` before `start()` and `ClosedError` after `close()`.
   */
  async request(frames: Frames, options: RequestOptions = {}): Promise<Buffer[]> {
    const o = this.#o;
    const attemptTimeoutMs = options.attemptTimeoutMs ?? o.attemptTimeoutMs;
    const retries = options.retries ?? o.retries;
    using budget = new CallBudget(
      `${this.#name} request to ${this.#servers.join(', ')}`,
      { timeoutMs: options.timeoutMs ?? o.timeoutMs, attemptTimeoutMs, retries, signal: options.signal },
      o.clock,
    );
    this.assertRunning();
    const stop = AbortSignal.any([budget.signal, this.closeSignal]);
    const release = await this.#turn(stop).catch((err: unknown) => {
      const stopped = this.#stopped(budget, err);
      if (stopped instanceof TimeoutError) this.#stats.timeouts++; // out of time waiting for its turn
      throw stopped;
    });
    try {
      this.assertRunning();
      this.#stats.requests++;
      const sequence = o.sequenceCheck ? ++this.#sequence : undefined;
      const body = frames.map(toBuffer);
      const message = sequence === undefined ? body : [encodeSequence(sequence), ...body];
      while (budget.next()) {
        if (budget.attempts > 1) this.#stats.retries++;
        const conn = this.#connection();
        this.#waiting = true;
        this.#log.debug({ attempt: budget.attempts, server: conn.server }, 'waiting');
        const answer = new Promise<Message>((resolve, reject) => {
          conn.waiter = { resolve, reject };
        });
        conn.channel.post(message);
        const outcome = await budget.race(answer).catch((err: unknown) => {
          // Out of time, aborted or closed: the REQ socket is confused, replace it (no event:
          // the server was not silent for a whole attempt).
          this.#discard();
          throw err;
        });
        if (!outcome.ok) {
          const more = budget.attempts <= retries;
          await this.#attemptTimedOut(conn, attemptTimeoutMs, more, stop).catch((err: unknown) => {
            throw this.#stopped(budget, err);
          });
          continue;
        }
        let reply = outcome.value;
        if (sequence !== undefined) {
          if (!isSequence(reply[0], sequence)) {
            this.#stats.malformed++;
            this.#log.warn({ server: conn.server, sequence, reply: describe(reply) }, 'malformed reply from server');
            continue; // REQ is back in its send state: resend on the same socket.
          }
          reply = reply.slice(1);
        }
        this.#stats.replies++;
        return reply;
      }
      this.#log.error(
        { servers: this.#servers, attempts: budget.attempts, attemptTimeoutMs },
        'server seems to be offline, abandoning',
      );
      throw budget.error();
    } catch (err) {
      if (err instanceof TimeoutError) this.#stats.timeouts++;
      throw err;
    } finally {
      this.#waiting = false;
      release();
    }
  }

  /**
   * An attempt got no reply in its whole wait (`silentMs`): the server was silent. Drop the
   * socket, fail over, and when another attempt follows, say so and wait `settleDelayMs` first.
   */
  async #attemptTimedOut(conn: Connection, silentMs: number, more: boolean, stop: AbortSignal): Promise<void> {
    this.#discard();
    if (conn.answered) {
      this.emit({ type: 'disconnected', peer: conn.server, reason: 'silent', silentMs, session: conn.session });
    }
    this.#failures++;
    this.#failover();
    if (!more) return;
    this.#log.warn({ server: conn.server, attempt: this.#failures, silentMs }, 'no response from server, retrying');
    const settleMs = this.#servers.length > 1 ? this.#o.settleDelayMs : 0;
    this.emit({ type: 'reconnecting', peer: this.server, attempt: this.#failures, delayMs: settleMs });
    if (settleMs > 0) await sleep(settleMs, { clock: this.#o.clock, signal: stop });
  }

  async #turn(signal: AbortSignal): Promise<() => void> {
    const previous = this.#tail;
    let release: () => void = () => undefined;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.#tail = previous.then(() => mine);
    try {
      await deadline(previous, { signal });
    } catch (err) {
      release();
      throw err;
    }
    return release;
  }

  /** What a wait cut short by `stop` ends the call with: the budget's error, or `ClosedError`. */
  #stopped(budget: CallBudget, err: unknown): unknown {
    if (budget.signal.aborted) return budget.signal.reason;
    if (this.closeSignal.aborted) return new ClosedError(this.#name);
    return err;
  }

  #connection(): Connection {
    if (this.#conn !== undefined) return this.#conn;
    // No socket is opened once closing has begun.
    if (this.closeSignal.aborted) throw new ClosedError(this.#name);
    const server = this.server;
    const socket = new zmq.Request({ linger: this.#o.lingerMs });
    applyConnectSecurity(socket, this.#security);
    socket.connect(server);
    const conn: Connection = {
      server,
      session: ++this.#stats.sockets,
      channel: new Channel(socket, { name: 'req', logger: this.#log }),
      waiter: undefined,
      answered: false,
    };
    void conn.channel.start((message) => {
      if (!conn.answered) {
        conn.answered = true;
        this.#failures = 0;
        this.#log.debug({ server, session: conn.session }, 'connected');
        this.emit({ type: 'connected', peer: server, session: conn.session });
      }
      const waiter = conn.waiter;
      conn.waiter = undefined;
      waiter?.resolve(message);
    });
    this.#conn = conn;
    return conn;
  }

  #failover(): void {
    if (this.#servers.length < 2) return;
    const from = this.#rotation.current;
    const to = this.#rotation.failover();
    this.#stats.failovers++;
    this.#log.info({ from, to }, 'failover');
    this.emit({ type: 'failover', from, to });
  }

  /** Drop the confused REQ socket; a new one is made for the next attempt. */
  #discard(): void {
    const conn = this.#conn;
    this.#conn = undefined;
    if (conn === undefined) return;
    conn.waiter = undefined;
    void conn.channel.close();
  }
}
