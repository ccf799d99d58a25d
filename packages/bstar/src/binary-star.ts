/**
 * The Binary Star reactor: one server of a primary/backup pair. It publishes its state every
 * heartbeat, reads the peer's, runs the FSM, and decides for each client request whether this
 * server may serve it (the client vote). Embed it in any server:
 *
 *   primary                                   backup
 *   state PUB  (stateBind)  ── "1".."4" ──>  state SUB (stateConnect)
 *   state SUB  (stateConnect) <── "1".."4" ── state PUB (stateBind)
 *   frontend: for each client message, vote(): true -> serve, false -> drop (no reply)
 *
 * Nothing here aborts: split brain and dual passive are notices on `changes()` and in the log,
 * resolved by role (see fsm.ts). Garbage on the state socket is counted and ignored.
 */
import * as zmq from 'zeromq';
import {
  InvalidArgumentError,
  applyBindSecurity,
  applyConnectSecurity,
  applyPeerLimits,
  Channel,
  ClosedError,
  componentLogger,
  StatusFeed,
  systemClock,
  type Clock,
  type CurveKeyPair,
  type Logger,
  type Message,
  type ServerSecurity,
  type TimerHandle,
  WarningLimiter,
} from '@zpatterns/core';
import { CloseOnce } from '@zpatterns/core/internal';
import { NotStartedError } from './errors.js';
import { initialState, transition, type BStarEvent, type BStarNotice, type BStarRole, type BStarState } from './fsm.js';
import { BSTAR_HEARTBEAT_MS, BSTAR_PEER_EXPIRY_HEARTBEATS, decodeState, encodeState } from './protocol.js';

/** Options of `new BinaryStar(options)`; `binaryStarDefaults` holds the defaults. */
export interface BinaryStarOptions {
  /** Which server of the pair this is. */
  role: BStarRole;
  /** Endpoint the state PUB binds (the book's "local"), e.g. `tcp://127.0.0.1:5003`. */
  stateBind: string;
  /** The peer's state PUB, which our state SUB connects to (the book's "remote"). */
  stateConnect: string;
  /**
   * How often the state is published; the peer is dead after two of these of silence. Both
   * servers must use the same value. @default 1000
   */
  heartbeatMs?: number;
  /** Time source. @default systemClock */
  clock?: Clock;
  /** Parent logger. @default silent */
  logger?: Logger;
  /**
   * Asked when both servers are active (split brain): true = stay active, false = step down. Both
   * servers must answer consistently (e.g. by comparing their data). @default the primary stays
   */
  resolveSplitBrain?: () => boolean;
  /**
   * CURVE on the state channel: this server's key pair and the peer's public key (the same key
   * when both servers share one key file). Our state PUB then admits only the peer's key, and our
   * state SUB only talks to a PUB holding it. @default plain
   */
  curve?: (CurveKeyPair & { peerPublicKey: string }) | undefined;
}

/**
 * The book's timing: state published every 1000 ms (the peer is dead after two silent heartbeats), on the system clock.
 */
export const binaryStarDefaults = {
  heartbeatMs: BSTAR_HEARTBEAT_MS,
  clock: systemClock,
} as const satisfies Partial<BinaryStarOptions>;

/** What `changes()` yields: each state change, and each notice the book would have aborted on. */
export type BStarChange =
  | { type: 'state'; from: BStarState; to: BStarState; reason: string }
  | { type: 'notice'; notice: BStarNotice; state: BStarState };

/** Counters of one `BinaryStar`, live fields updated in place. */
export interface BStarStats {
  /** State messages published. */
  published: number;
  /** Valid peer state messages received. */
  peerMessages: number;
  /** Peer state messages that were not one frame holding one digit 1-4. */
  garbage: number;
  /** Client votes accepted (served) and rejected (dropped). */
  accepted: number;
  rejected: number;
  splitBrains: number;
  dualPassives: number;
}

/**
 * One server of a Binary Star primary/backup pair (the book's bstar reactor). It publishes its
 * state every `heartbeatMs`, reads the peer's, runs the state machine, and decides per client
 * request whether this server may serve it (`vote()`, or `serve(channel, handler)`). Nothing
 * aborts: split brain and dual passive are notices on `changes()` and in the log. `new
 * BinaryStar(options)` throws `InvalidArgumentError` for `heartbeatMs <= 0`; calls that need the
 * sockets before `start()` throw `NotStartedError`.
 */
export class BinaryStar implements AsyncDisposable {
  readonly role: BStarRole;
  readonly stats: BStarStats = {
    published: 0,
    peerMessages: 0,
    garbage: 0,
    accepted: 0,
    rejected: 0,
    splitBrains: 0,
    dualPassives: 0,
  };
  readonly #options: BinaryStarOptions;
  readonly #heartbeatMs: number;
  readonly #clock: Clock;
  readonly #log: Logger;
  /** Warnings about garbage on the state socket: at most 10 a second (every one is counted). */
  readonly #warnings: WarningLimiter;
  readonly #pub: Channel<zmq.Publisher>;
  readonly #sub: Channel<zmq.Subscriber>;
  readonly #feed = new StatusFeed<BStarChange>();
  readonly #activeListeners = new Set<() => void>();
  readonly #passiveListeners = new Set<() => void>();
  #state: BStarState;
  #peerExpiresAt = 0;
  #stateEndpoint: string | undefined;
  #timer: TimerHandle | undefined;
  #starting: Promise<void> | undefined;
  /** True once start() has bound, connected and set the peer's first expiry. */
  #started = false;
  readonly #closer = new CloseOnce(() => this.#close());
  readonly #guard: ServerSecurity | undefined;

  constructor(options: BinaryStarOptions) {
    this.#options = options;
    this.role = options.role;
    this.#heartbeatMs = options.heartbeatMs ?? binaryStarDefaults.heartbeatMs;
    if (!(this.#heartbeatMs > 0)) throw new InvalidArgumentError('BinaryStar: heartbeatMs must be > 0');
    this.#clock = options.clock ?? binaryStarDefaults.clock;
    this.#log = componentLogger(options.logger, { component: 'bstar', role: options.role });
    this.#warnings = new WarningLimiter(this.#log, this.#clock, 10);
    this.#state = initialState(options.role);
    this.#pub = new Channel(new zmq.Publisher({ linger: 0 }), { name: 'bstar-state-pub', logger: this.#log });
    this.#sub = new Channel(new zmq.Subscriber({ linger: 0 }), { name: 'bstar-state-sub', logger: this.#log });
    const { curve } = options;
    const keys = curve === undefined ? undefined : { publicKey: curve.publicKey, secretKey: curve.secretKey };
    this.#guard = applyBindSecurity(
      this.#pub.socket,
      keys === undefined ? undefined : { curve: keys, authorize: new Set([curve?.peerPublicKey ?? '']) },
      options.logger,
    );
    applyPeerLimits(this.#sub.socket);
    if (keys !== undefined) {
      applyConnectSecurity(this.#sub.socket, { curve: { ...keys, serverPublicKey: curve?.peerPublicKey } });
    }
  }

  get state(): BStarState {
    return this.#state;
  }

  get isActive(): boolean {
    return this.#state === 'active';
  }

  /** When the peer counts as dead unless it is heard from again (clock time). */
  get peerExpiresAt(): number {
    return this.#peerExpiresAt;
  }

  /** The bound state endpoint (a wildcard port resolved), once `start()` has resolved. */
  get stateEndpoint(): string {
    if (this.#stateEndpoint === undefined) throw new NotStartedError('stateEndpoint');
    return this.#stateEndpoint;
  }

  /** Bind the state PUB, connect the state SUB, start publishing. Idempotent. */
  start(): Promise<void> {
    this.#starting ??= this.#start();
    return this.#starting;
  }

  async #start(): Promise<void> {
    if (this.#closer.started) throw new ClosedError('BinaryStar');
    await this.#guard?.ready();
    await this.#pub.socket.bind(this.#options.stateBind);
    this.#stateEndpoint = this.#pub.socket.lastEndpoint ?? this.#options.stateBind;
    this.#sub.socket.subscribe();
    this.#sub.socket.connect(this.#options.stateConnect);
    // Like bstar_start: the peer has two heartbeats to show up before a client vote counts.
    this.#peerExpiresAt = this.#clock.now() + this.#expiryMs;
    this.#started = true;
    void this.#sub.start((message) => this.#onPeer(message));
    this.#log.info(
      { state: this.#state, stateBind: this.#stateEndpoint, stateConnect: this.#options.stateConnect },
      'binary star started',
    );
    this.#publish();
  }

  get #expiryMs(): number {
    return this.#heartbeatMs * BSTAR_PEER_EXPIRY_HEARTBEATS;
  }

  /**
   * A client request arrived: feed it to the FSM as a vote. True means this server may serve it;
   * false means drop it without a reply (the client times out and tries the other server).
   * Throws `NotStartedError` before `start()` has resolved: with no peer heard yet, a vote would
   * make a primary active at once.
   */
  vote(): boolean {
    if (this.#closer.started) return false;
    if (!this.#started) throw new NotStartedError('vote()');
    const accepted = this.#apply('client-request');
    if (accepted) this.stats.accepted++;
    else this.stats.rejected++;
    return accepted;
  }

  /**
   * Gate a frontend: run `channel`'s receive loop, passing each message that wins its vote to
   * `handler` and dropping the others (the book's `bstar_voter`). Resolves when the channel closes.
   */
  serve<TSocket extends zmq.Socket & zmq.Readable>(
    channel: Channel<TSocket>,
    handler: (message: Message) => void | Promise<void>,
  ): Promise<void> {
    if (this.#starting === undefined) throw new NotStartedError('serve()');
    return channel.start((message) => (this.vote() ? handler(message) : undefined));
  }

  /** Called on every change to ACTIVE. Returns a function that removes the listener. */
  onActive(listener: () => void): () => void {
    this.#activeListeners.add(listener);
    return () => this.#activeListeners.delete(listener);
  }

  /** Called on every change to PASSIVE. Returns a function that removes the listener. */
  onPassive(listener: () => void): () => void {
    this.#passiveListeners.add(listener);
    return () => this.#passiveListeners.delete(listener);
  }

  /** State changes and notices from now on, as an async iterator (tolerates `break`). */
  changes(): AsyncIterableIterator<BStarChange> {
    return this.#feed.subscribe();
  }

  #onPeer(message: Message): void {
    const decoded = decodeState(message);
    if ('error' in decoded) {
      this.stats.garbage++;
      this.#warnings.warn({ reason: decoded.error, frames: message.length }, 'garbage on the state socket ignored');
      return;
    }
    this.stats.peerMessages++;
    // As the reactor does: the peer is alive as of this message, whatever the FSM makes of it.
    this.#peerExpiresAt = this.#clock.now() + this.#expiryMs;
    this.#apply(decoded.event);
  }

  #apply(event: BStarEvent): boolean {
    const from = this.#state;
    const splitBrain = from === 'active' && event === 'peer-active';
    const result = transition(
      {
        role: this.role,
        state: from,
        peerExpiresAt: this.#peerExpiresAt,
        splitBrainStays: splitBrain ? this.#options.resolveSplitBrain?.() : undefined,
      },
      event,
      this.#clock.now(),
    );
    if (result.notice !== undefined) {
      if (result.notice.type === 'split-brain') this.stats.splitBrains++;
      else this.stats.dualPassives++;
      this.#log.error({ notice: result.notice.type, state: from, event }, 'binary star notice');
      this.#feed.emit({ type: 'notice', notice: result.notice, state: from });
    }
    if (result.next !== from) this.#setState(result.next, result.reason ?? event);
    return result.accept;
  }

  /** The one place the state changes: log, publish at once, tell the listeners. */
  #setState(to: BStarState, reason: string): void {
    const from = this.#state;
    this.#state = to;
    this.#log.info({ from, to, reason }, 'binary star state');
    this.#feed.emit({ type: 'state', from, to, reason });
    // Publish the news now rather than up to a heartbeat later: the peer settles faster.
    this.#publish();
    const listeners = to === 'active' ? this.#activeListeners : to === 'passive' ? this.#passiveListeners : undefined;
    for (const listener of listeners ?? []) {
      try {
        listener();
      } catch (err) {
        this.#log.warn({ err }, 'state listener threw');
      }
    }
  }

  #publish(): void {
    if (this.#closer.started) return;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    if (this.#pub.post(encodeState(this.#state))) this.stats.published++;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.#publish();
    }, this.#heartbeatMs);
  }

  /** Stop publishing and close both state sockets. Idempotent. */
  close(): Promise<void> {
    return this.#closer.close();
  }

  /**
   * Resolves once the node has closed, never rejects: `undefined` after `close()`, or the error
   * that `close()` itself ran into.
   */
  closed(): Promise<void | Error> {
    return this.#closer.closed();
  }

  async #close(): Promise<void> {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    await Promise.allSettled([this.#starting]);
    await Promise.all([this.#pub.close(), this.#sub.close()]);
    await this.#guard?.release();
    this.#feed.end();
    this.#activeListeners.clear();
    this.#passiveListeners.clear();
  }

  /** Same as `close()`, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
