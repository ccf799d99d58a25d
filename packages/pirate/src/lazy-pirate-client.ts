/**
 * Lazy Pirate: reliable request-reply from the client side alone, against any REP server.
 *
 *   client (REQ) ---- request ----> server (REP)
 *        |  no reply within timeoutMs?
 *        |  close the REQ ("old socket is confused"), open a new one (next server, if several),
 *        |  resend the same request; after `retries` resends, reject with NoReplyError
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
  componentLogger,
  deadline,
  describe,
  InvalidArgumentError,
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
import { CloseOnce } from '@zpatterns/core/internal';
import { NoReplyError } from './errors.js';
import { encodeSequence, isSequence, LAZY_PIRATE_RETRIES, LAZY_PIRATE_TIMEOUT_MS } from './protocol.js';

/** Options of `new LazyPirateClient(servers, options)`; `lazyPirateClientDefaults` holds the defaults. */
export interface LazyPirateClientOptions {
  /** How long to wait for a reply before resending. @default 2500 */
  timeoutMs?: number;
  /**
   * Resends after the first send before giving up with `NoReplyError`: a request is sent at most
   * `retries + 1` times. The default 2 gives the book's three sends (its `REQUEST_RETRIES` 3
   * counts the first send too). `0` sends once and never resends. @default 2
   */
  retries?: number;
  /**
   * lpclient's sequence check: put a decimal sequence number (`"1"`, `"2"`, ...) before the
   * request frames and accept only a reply whose first frame echoes it; that frame is removed from
   * the reply you get. `request([])` then sends exactly lpclient's message. Needs a server that
   * echoes the first frame (lpserver, an echo worker). A reply that fails the check counts as a
   * failed attempt. @default false
   */
  sequenceCheck?: boolean;
  /**
   * Wait this long before an attempt that fails over to another server (several servers only).
   * A Binary Star client sets it to at least the pair's failover time (2 heartbeats), so the
   * backup has seen its peer go silent when the resent request arrives and takes it as a vote.
   * @default 0
   */
  settleDelayMs?: number;
  /** Linger of each REQ socket when it is discarded or closed. @default 0 */
  lingerMs?: number;
  /**
   * CURVE: this side's key pair and the server's public key. Without it the connection is plain.
   * @default undefined (plain)
   */
  security?: SecurityOptions | undefined;
  /** Parent logger. @default silent */
  logger?: Logger;
  /** Time source for the reply timeout. @default systemClock */
  clock?: Clock;
}

/** The book's lpclient settings: 2500 ms per attempt, 2 resends (three sends in all), no sequence check. */
export const lazyPirateClientDefaults: Required<Omit<LazyPirateClientOptions, 'logger' | 'security'>> = {
  timeoutMs: LAZY_PIRATE_TIMEOUT_MS,
  retries: LAZY_PIRATE_RETRIES,
  sequenceCheck: false,
  settleDelayMs: 0,
  lingerMs: 0,
  clock: systemClock,
};

/** Per-call overrides. */
export interface RequestOptions {
  /** @default the client's `timeoutMs` */
  timeoutMs?: number;
  /** Resends after the first send, a whole number >= 0. @default the client's `retries` */
  retries?: number;
  /** Abort the request: it rejects with `AbortError` and the socket is replaced. */
  signal?: AbortSignal;
}

/** Counters of one `LazyPirateClient`, live fields updated in place. */
export interface LazyPirateClientStats {
  requests: number;
  replies: number;
  /** Requests sent again after a timeout or a bad reply. */
  resends: number;
  timeouts: number;
  /** Replies rejected by the sequence check. */
  malformedReplies: number;
  /** REQ sockets opened (the first one included). */
  sockets: number;
  /** Requests that ended with `NoReplyError`. */
  failures: number;
}

/** `'waiting'` while a request is in flight, `'idle'` between requests, `'closed'` after `close()`. */
export type LazyPirateClientState = 'idle' | 'waiting' | 'closed';

type ClientState = { state: 'idle' } | { state: 'waiting'; attempt: number; server: string } | { state: 'closed' };

interface Connection {
  readonly server: string;
  readonly channel: Channel<zmq.Request>;
  waiter: { resolve: (m: Message) => void; reject: (err: Error) => void } | undefined;
}

/**
 * Lazy Pirate (the book's lpclient): reliable request-reply from the client side alone, against
 * any REP server or queue frontend. Each request waits `timeoutMs` for a reply; on a timeout the
 * REQ socket is discarded, a new one is opened (on the next server, when several are given) and the
 * request is resent, at most `retries` times. Then it rejects with `NoReplyError`.
 * Delivery is at least once: make requests idempotent. One request is in flight at a time; further
 * `request()` calls queue in call order. Throws `InvalidArgumentError` for an empty server list,
 * `timeoutMs <= 0` or `retries` not a whole number >= 0.
 */
export class LazyPirateClient implements AsyncDisposable {
  readonly #closer = new CloseOnce(() => this.#close());
  readonly servers: readonly string[];
  readonly stats: LazyPirateClientStats = {
    requests: 0,
    replies: 0,
    resends: 0,
    timeouts: 0,
    malformedReplies: 0,
    sockets: 0,
    failures: 0,
  };
  readonly #o: Required<Omit<LazyPirateClientOptions, 'logger' | 'security'>>;
  readonly #log: Logger;
  #state: ClientState = { state: 'idle' };
  #conn: Connection | undefined;
  #serverIndex = 0;
  #sequence = 0;
  /** Resolves when every request issued so far has finished: the turn of the next one. */
  #tail: Promise<void> = Promise.resolve();
  readonly #security: SecurityOptions | undefined;

  /** @param servers one endpoint, or several tried in turn after each timeout (failover). */
  constructor(servers: string | readonly string[], options: LazyPirateClientOptions = {}) {
    this.servers = typeof servers === 'string' ? [servers] : [...servers];
    if (this.servers.length === 0)
      throw new InvalidArgumentError('LazyPirateClient: need at least one server endpoint');
    const { logger, security, ...rest } = options;
    this.#o = { ...lazyPirateClientDefaults, ...rest };
    this.#security = security;
    if (!(this.#o.timeoutMs > 0)) throw new InvalidArgumentError('LazyPirateClient: timeoutMs must be > 0');
    if (!(Number.isInteger(this.#o.retries) && this.#o.retries >= 0)) {
      throw new InvalidArgumentError('LazyPirateClient: retries must be a whole number >= 0 (resends after the first)');
    }
    this.#log = componentLogger(logger, { component: 'lazy-pirate-client' });
  }

  /** The endpoint the next attempt goes to. */
  get server(): string {
    return this.servers[this.#serverIndex] as string;
  }

  /** `'waiting'` while a request is in flight, `'idle'` between requests, `'closed'` after `close()`. */
  get state(): LazyPirateClientState {
    return this.#state.state;
  }

  /** The next sequence number `sequenceCheck` will use minus one (0 before the first request). */
  get sequence(): number {
    return this.#sequence;
  }

  /**
   * Send `frames` and resolve with the reply frames. Resends on timeout; rejects with
   * `NoReplyError` after `retries` resends (`retries + 1` sends), `AbortError` when `signal` fires, `ClosedError` after
   * `close()`.
   */
  async request(frames: Frames, options: RequestOptions = {}): Promise<Buffer[]> {
    const timeoutMs = options.timeoutMs ?? this.#o.timeoutMs;
    const retries = options.retries ?? this.#o.retries;
    const { signal } = options;
    if (!(timeoutMs > 0) || !(Number.isInteger(retries) && retries >= 0)) {
      throw new InvalidArgumentError('request: need timeoutMs > 0 and retries a whole number >= 0');
    }
    const attempts = retries + 1;
    const release = await this.#turn(signal);
    try {
      if (this.#state.state === 'closed') throw new ClosedError('LazyPirateClient');
      this.stats.requests++;
      const sequence = this.#o.sequenceCheck ? ++this.#sequence : undefined;
      const body = frames.map(toBuffer);
      const message = sequence === undefined ? body : [encodeSequence(sequence), ...body];
      for (let attempt = 1; attempt <= attempts; attempt++) {
        if (attempt > 1) this.stats.resends++;
        const conn = this.#connection();
        this.#transition({ state: 'waiting', attempt, server: conn.server });
        const reply = new Promise<Message>((resolve, reject) => {
          conn.waiter = { resolve, reject };
        });
        conn.channel.post(message);
        let frames: Message;
        try {
          frames = await deadline(reply, { timeoutMs, signal, clock: this.#o.clock });
        } catch (err) {
          conn.waiter = undefined;
          if (err instanceof TimeoutError) {
            this.stats.timeouts++;
            this.#discard();
            // Failover: the next attempt goes to the next server in the list.
            this.#serverIndex = (this.#serverIndex + 1) % this.servers.length;
            if (attempt < attempts) {
              this.#log.warn({ server: conn.server, attempt, timeoutMs }, 'no response from server, retrying');
              if (this.servers.length > 1 && this.#o.settleDelayMs > 0) {
                await sleep(this.#o.settleDelayMs, { clock: this.#o.clock, signal });
              }
            }
            continue;
          }
          if (err instanceof AbortError) this.#discard();
          throw err;
        }
        if (sequence !== undefined) {
          if (!isSequence(frames[0], sequence)) {
            this.stats.malformedReplies++;
            this.#log.warn({ server: conn.server, sequence, reply: describe(frames) }, 'malformed reply from server');
            continue; // REQ is back in its send state: resend on the same socket.
          }
          frames = frames.slice(1);
        }
        this.stats.replies++;
        this.#transition({ state: 'idle' });
        return frames;
      }
      this.stats.failures++;
      this.#transition({ state: 'idle' });
      this.#log.error({ servers: this.servers, attempts, timeoutMs }, 'server seems to be offline, abandoning');
      throw new NoReplyError(attempts, timeoutMs, this.servers);
    } finally {
      if (this.#state.state === 'waiting') this.#transition({ state: 'idle' });
      release();
    }
  }

  /** Close the socket. A request in flight rejects with `ClosedError`; so do later ones. Idempotent. */
  close(): Promise<void> {
    return this.#closer.close();
  }

  /**
   * Resolves once the client has closed, never rejects: `undefined` after `close()`, or the error
   * that `close()` itself ran into.
   */
  closed(): Promise<void | Error> {
    return this.#closer.closed();
  }

  async #close(): Promise<void> {
    this.#transition({ state: 'closed' });
    const conn = this.#conn;
    this.#conn = undefined;
    if (conn !== undefined) {
      conn.waiter?.reject(new ClosedError('LazyPirateClient'));
      conn.waiter = undefined;
      await conn.channel.close();
    }
  }

  /** Same as `close()`, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #turn(signal: AbortSignal | undefined): Promise<() => void> {
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

  #connection(): Connection {
    if (this.#conn !== undefined) return this.#conn;
    const server = this.server;
    const socket = new zmq.Request({ linger: this.#o.lingerMs });
    applyConnectSecurity(socket, this.#security);
    socket.connect(server);
    this.stats.sockets++;
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
    return conn;
  }

  /** Drop the confused REQ socket; a new one is made for the next attempt. */
  #discard(): void {
    const conn = this.#conn;
    this.#conn = undefined;
    if (conn === undefined) return;
    conn.waiter = undefined;
    void conn.channel.close();
  }

  #transition(next: ClientState): void {
    const from = this.#state;
    this.#state = next;
    if (next.state === 'waiting') {
      this.#log.debug({ from: from.state, to: next.state, attempt: next.attempt, server: next.server }, 'state');
    } else {
      this.#log.debug({ from: from.state, to: next.state }, 'state');
    }
  }
}
