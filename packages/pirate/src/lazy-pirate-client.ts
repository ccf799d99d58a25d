/**
 * Lazy Pirate: reliable request-reply from the client side alone, against any REP server.
 *
 *   client (REQ) ---- request ----> server (REP)
 *        |  no reply within attemptTimeoutMs?
 *        |  close the REQ ("old socket is confused"), open a new one (next server, if several),
 *        |  resend the same request; after `retries` resends, reject with LazyPirateTimeoutError
 *        <----------- reply --------
 *
 * One request is outstanding at a time (REQ semantics); concurrent `request()` calls wait their
 * turn in call order. The socket is kept between requests and replaced only after a timeout or
 * an abort, exactly as lpclient does.
 */
import * as zmq from 'zeromq';
import {
  applyConnectSecurity,
  AbortError,
  Channel,
  ClosedError,
  Component,
  componentLogger,
  deadline,
  definedOnly,
  describe,
  InvalidArgumentError,
  ServerRotation,
  sleep,
  systemClock,
  TimeoutError,
  toBuffer,
  type Clock,
  type Frames,
  type Logger,
  type Message,
  type SecurityOptions,
} from '@zpatterns/core';
import { LazyPirateTimeoutError } from './errors.js';
import { LAZY_PIRATE_ATTEMPT_TIMEOUT_MS, LAZY_PIRATE_RETRIES } from './defaults.js';
import { encodeSequence, isSequence } from './protocol.js';
import type { Settings } from './settings.js';

/** Options of `new LazyPirateClient(options)`; `lazyPirateClientDefaults` holds the defaults. */
export interface LazyPirateClientOptions {
  /** One endpoint, or several tried in turn after each timeout (failover), in priority order. */
  servers: string | readonly string[];
  /** How long each attempt waits for a reply before the request is resent. @default 2500 */
  attemptTimeoutMs?: number | undefined;
  /**
   * Bound on a whole `request()`: every attempt, the settle delays and the wait for its turn. On
   * expiry it rejects with `LazyPirateTimeoutError`. @default unbounded beyond the attempts
   */
  timeoutMs?: number | undefined;
  /**
   * Resends after the first send before giving up with `LazyPirateTimeoutError`: a request is
   * sent at most `retries + 1` times. The default 2 gives the book's three sends (its
   * `REQUEST_RETRIES` 3 counts the first send too). `0` sends once and never resends. @default 2
   */
  retries?: number | undefined;
  /**
   * lpclient's sequence check: put a decimal sequence number (`"1"`, `"2"`, ...) before the
   * request frames and accept only a reply whose first frame echoes it; that frame is removed from
   * the reply you get. `request([])` then sends exactly lpclient's message. Needs a server that
   * echoes the first frame (lpserver, an echo worker). A reply that fails the check counts as a
   * failed attempt. @default false
   */
  sequenceCheck?: boolean | undefined;
  /**
   * Wait this long before an attempt that fails over to another server (several servers only).
   * A Binary Star client sets it to at least the pair's failover time (2 heartbeats), so the
   * backup has seen its peer go silent when the resent request arrives and takes it as a vote.
   * @default 0
   */
  settleDelayMs?: number | undefined;
  /** Linger of each REQ socket when it is discarded or closed. @default 0 */
  lingerMs?: number | undefined;
  /**
   * CURVE: this side's key pair and the server's public key. Without it the connection is plain.
   * @default undefined (plain)
   */
  security?: SecurityOptions | undefined;
  /** Parent logger. @default silent */
  logger?: Logger | undefined;
  /** Time source for the timeouts and delays. @default systemClock */
  clock?: Clock | undefined;
}

type ClientSettings = Settings<Omit<LazyPirateClientOptions, 'servers' | 'logger' | 'security' | 'timeoutMs'>> & {
  timeoutMs: number | undefined;
};

/**
 * The book's lpclient settings: 2500 ms per attempt, 2 resends (three sends in all), no sequence
 * check, no bound on the whole request beyond its attempts.
 */
export const lazyPirateClientDefaults = {
  attemptTimeoutMs: LAZY_PIRATE_ATTEMPT_TIMEOUT_MS,
  timeoutMs: undefined,
  retries: LAZY_PIRATE_RETRIES,
  sequenceCheck: false,
  settleDelayMs: 0,
  lingerMs: 0,
  clock: systemClock,
} as const satisfies ClientSettings;

/** Per-call options of `request()`; each overrides the client's option of the same name. */
export interface RequestOptions {
  /** Bound on the whole call, every attempt and wait included. @default the client's `timeoutMs` */
  timeoutMs?: number | undefined;
  /** Wait for each attempt's reply. @default the client's `attemptTimeoutMs` */
  attemptTimeoutMs?: number | undefined;
  /** Resends after the first send, a whole number >= 0. @default the client's `retries` */
  retries?: number | undefined;
  /** Abort the request: it rejects with `AbortError` and the socket is replaced. */
  signal?: AbortSignal | undefined;
}

/** Counters of one `LazyPirateClient`. */
export interface LazyPirateClientStats {
  /** Calls to `request()` that got their turn. */
  requests: number;
  /** Requests answered. */
  replies: number;
  /** Requests sent again after a timeout or a bad reply (resends). */
  retries: number;
  /** Requests that ended with `TimeoutError` (out of attempts or out of time). */
  timeouts: number;
  /** Replies rejected by the sequence check. */
  malformed: number;
  /** REQ sockets opened (the first one included). */
  sockets: number;
  /** Moves to the next server after a timeout (several servers only). */
  failovers: number;
}

/**
 * What `status()` yields besides `started` and `closed`: a REQ socket opened to a server, a
 * socket given up (no reply in time, or the request aborted), a move to the next server.
 */
export type LazyPirateClientStatus =
  | {
      /** A new REQ socket connects to `server` (at start, and after each discarded one). */
      readonly type: 'connected';
      /** The endpoint connected to. */
      readonly server: string;
    }
  | {
      /** The REQ socket was discarded: no reply in time, or the request was aborted. */
      readonly type: 'disconnected';
      /** The endpoint the socket was connected to. */
      readonly server: string;
      /** Why: `'timeout'` (no reply within the attempt's wait) or `'aborted'`. */
      readonly reason: 'timeout' | 'aborted';
    }
  | {
      /** The next attempt goes to another server. */
      readonly type: 'failover';
      /** The server given up on. */
      readonly from: string;
      /** The server the next attempt goes to. */
      readonly to: string;
    };

interface Connection {
  readonly server: string;
  readonly channel: Channel<zmq.Request>;
  waiter: { resolve: (m: Message) => void; reject: (err: Error) => void } | undefined;
}

/**
 * Lazy Pirate (the book's lpclient): reliable request-reply from the client side alone, against
 * any REP server or queue frontend. `new LazyPirateClient({ servers })` opens nothing; `start()`
 * opens the first REQ socket and resolves once it is connecting to the first server (ready to
 * send). Each attempt waits `attemptTimeoutMs` for a reply; on a timeout the REQ socket is
 * discarded, a new one is opened (on the next server, when several are given, through core's
 * `ServerRotation`) and the request is resent, at most `retries` times; then `request()` rejects
 * with `LazyPirateTimeoutError`, as it does when the whole call's `timeoutMs` runs out. Delivery
 * is at least once: make requests idempotent. One request is in flight at a time; further
 * `request()` calls queue in call order. Throws `InvalidArgumentError` for an empty server list,
 * `attemptTimeoutMs <= 0`, `timeoutMs <= 0` or `retries` not a whole number >= 0.
 */
export class LazyPirateClient extends Component<LazyPirateClientStatus> {
  /** The endpoints, in priority order. */
  readonly servers: readonly string[];
  readonly #stats: LazyPirateClientStats = {
    requests: 0,
    replies: 0,
    retries: 0,
    timeouts: 0,
    malformed: 0,
    sockets: 0,
    failovers: 0,
  };
  readonly #o: ClientSettings;
  readonly #log: Logger;
  readonly #rotation: ServerRotation<string>;
  #conn: Connection | undefined;
  #sequence = 0;
  #waiting = false;
  /** Resolves when every request issued so far has finished: the turn of the next one. */
  #tail: Promise<void> = Promise.resolve();
  readonly #security: SecurityOptions | undefined;

  constructor(options: LazyPirateClientOptions) {
    super();
    const { servers, logger, security, ...rest } = options;
    this.servers = typeof servers === 'string' ? [servers] : [...servers];
    const name = new.target.name;
    if (this.servers.length === 0) throw new InvalidArgumentError(`${name}: need at least one server endpoint`);
    this.#rotation = new ServerRotation(this.servers);
    this.#o = { ...lazyPirateClientDefaults, ...definedOnly(rest) };
    this.#security = security;
    validate(name, this.#o.attemptTimeoutMs, this.#o.retries, this.#o.timeoutMs);
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
      conn.waiter?.reject(new ClosedError(this.constructor.name));
      conn.waiter = undefined;
      await conn.channel.close();
    }
  }

  /**
   * Send `frames` and resolve with the reply frames. Resends after each `attemptTimeoutMs`
   * without a reply; rejects with `LazyPirateTimeoutError` (code `ERR_TIMEOUT`) after `retries`
   * resends (`retries + 1` sends) or when `timeoutMs` bounds the call and runs out, with
   * `AbortError` when `signal` fires (also when it has already fired), with `NotStartedError`
   * before `start()` and `ClosedError` after `close()`.
   */
  async request(frames: Frames, options: RequestOptions = {}): Promise<Buffer[]> {
    const o = { ...this.#o, ...definedOnly(options) };
    const { signal } = options;
    validate('request', o.attemptTimeoutMs, o.retries, o.timeoutMs);
    this.assertRunning();
    const clock = this.#o.clock;
    const endAt = o.timeoutMs === undefined ? Number.POSITIVE_INFINITY : clock.now() + o.timeoutMs;
    const remaining = (): number => endAt - clock.now();
    const attempts = o.retries + 1;
    let sent = 0;
    const outOfTime = (): LazyPirateTimeoutError =>
      new LazyPirateTimeoutError(
        `no reply within timeoutMs (${String(o.timeoutMs)} ms) after ${sent} attempt(s) to ${this.servers.join(', ')}; raise 'timeoutMs', or check the server`,
        sent,
        this.servers,
      );
    const waitSignal = signal === undefined ? this.closeSignal : AbortSignal.any([signal, this.closeSignal]);
    /** A wait ended by close() is a ClosedError, not the caller's abort. */
    const closedOr = (err: unknown): unknown =>
      err instanceof AbortError && signal?.aborted !== true && this.closeSignal.aborted
        ? new ClosedError(this.constructor.name)
        : err;
    const release = await this.#turn(waitSignal, remaining(), clock).catch((err: unknown) => {
      if (!(err instanceof TimeoutError)) throw closedOr(err);
      this.#stats.timeouts++;
      throw outOfTime();
    });
    try {
      this.assertRunning();
      this.#stats.requests++;
      const sequence = this.#o.sequenceCheck ? ++this.#sequence : undefined;
      const body = frames.map(toBuffer);
      const message = sequence === undefined ? body : [encodeSequence(sequence), ...body];
      for (let attempt = 1; attempt <= attempts; attempt++) {
        if (remaining() <= 0) throw outOfTime();
        if (attempt > 1) this.#stats.retries++;
        const conn = this.#connection();
        this.#waiting = true;
        this.#log.debug({ attempt, server: conn.server }, 'waiting');
        const reply = new Promise<Message>((resolve, reject) => {
          conn.waiter = { resolve, reject };
        });
        conn.channel.post(message);
        sent = attempt;
        const waitMs = Math.min(o.attemptTimeoutMs, remaining());
        let frames: Message;
        try {
          frames = await deadline(reply, { timeoutMs: waitMs, signal, clock });
        } catch (err) {
          conn.waiter = undefined;
          if (err instanceof TimeoutError) {
            this.#discard('timeout');
            // The whole call's bound cut this wait short: no time is left for another attempt.
            if (waitMs < o.attemptTimeoutMs || remaining() <= 0) throw outOfTime();
            // Failover: the next attempt goes to the next server in the list.
            this.#failover();
            if (attempt < attempts) {
              this.#log.warn(
                { server: conn.server, attempt, attemptTimeoutMs: o.attemptTimeoutMs },
                'no response from server, retrying',
              );
              if (this.servers.length > 1 && this.#o.settleDelayMs > 0) {
                const settleMs = Math.min(this.#o.settleDelayMs, remaining());
                await sleep(settleMs, { clock, signal: waitSignal }).catch((e: unknown) => {
                  throw closedOr(e);
                });
              }
            }
            continue;
          }
          if (err instanceof AbortError) this.#discard('aborted');
          throw err;
        }
        if (sequence !== undefined) {
          if (!isSequence(frames[0], sequence)) {
            this.#stats.malformed++;
            this.#log.warn({ server: conn.server, sequence, reply: describe(frames) }, 'malformed reply from server');
            continue; // REQ is back in its send state: resend on the same socket.
          }
          frames = frames.slice(1);
        }
        this.#stats.replies++;
        return frames;
      }
      this.#log.error(
        { servers: this.servers, attempts, attemptTimeoutMs: o.attemptTimeoutMs },
        'server seems to be offline, abandoning',
      );
      throw new LazyPirateTimeoutError(
        `no reply after ${attempts} attempt(s) of ${o.attemptTimeoutMs} ms to ${this.servers.join(', ')}; raise 'retries' or 'attemptTimeoutMs', or check the server`,
        attempts,
        this.servers,
      );
    } catch (err) {
      if (err instanceof LazyPirateTimeoutError) this.#stats.timeouts++;
      throw err;
    } finally {
      this.#waiting = false;
      release();
    }
  }

  async #turn(signal: AbortSignal, timeoutMs: number, clock: Clock): Promise<() => void> {
    const previous = this.#tail;
    let release: () => void = () => undefined;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.#tail = previous.then(() => mine);
    try {
      await deadline(previous, { signal, timeoutMs, clock });
    } catch (err) {
      release();
      throw err;
    }
    return release;
  }

  #connection(): Connection {
    if (this.#conn !== undefined) return this.#conn;
    // No socket is opened once closing has begun.
    if (this.closeSignal.aborted) throw new ClosedError(this.constructor.name);
    const server = this.server;
    const socket = new zmq.Request({ linger: this.#o.lingerMs });
    applyConnectSecurity(socket, this.#security);
    socket.connect(server);
    this.#stats.sockets++;
    const conn: Connection = {
      server,
      channel: new Channel(socket, { name: 'req', logger: this.#log }),
      waiter: undefined,
    };
    void conn.channel.start((message) => {
      const waiter = conn.waiter;
      conn.waiter = undefined;
      waiter?.resolve(message);
    });
    this.#conn = conn;
    this.#log.debug({ server }, 'connected');
    this.emit({ type: 'connected', server });
    return conn;
  }

  #failover(): void {
    if (this.servers.length < 2) return;
    const from = this.#rotation.current;
    const to = this.#rotation.failover();
    this.#stats.failovers++;
    this.#log.info({ from, to }, 'failover');
    this.emit({ type: 'failover', from, to });
  }

  /** Drop the confused REQ socket; a new one is made for the next attempt. */
  #discard(reason: 'timeout' | 'aborted'): void {
    const conn = this.#conn;
    this.#conn = undefined;
    if (conn === undefined) return;
    conn.waiter = undefined;
    void conn.channel.close();
    this.emit({ type: 'disconnected', server: conn.server, reason });
  }
}

function validate(where: string, attemptTimeoutMs: number, retries: number, timeoutMs: number | undefined): void {
  if (!(attemptTimeoutMs > 0)) throw new InvalidArgumentError(`${where}: attemptTimeoutMs must be > 0`);
  if (timeoutMs !== undefined && !(timeoutMs > 0)) throw new InvalidArgumentError(`${where}: timeoutMs must be > 0`);
  if (!(Number.isInteger(retries) && retries >= 0)) {
    throw new InvalidArgumentError(`${where}: retries must be a whole number >= 0 (resends after the first)`);
  }
}
