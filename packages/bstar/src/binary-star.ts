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
 * Nothing here aborts: a split brain is a `split-brain` event on `status()` and an error in the
 * log, a dual passive a log line, both resolved by role (see fsm.ts). A malformed state message is
 * counted and ignored. The peer's silence is watched by core's `PeerLiveness`: it is dead two
 * heartbeats after its last state message (or after `start()`, when it has not been heard yet).
 */
import * as zmq from 'zeromq';
import {
  applyBindSecurity,
  applyConnectSecurity,
  Channel,
  Component,
  componentLogger,
  DEFAULT_MAX_MESSAGE_BYTES,
  invalidOption,
  NotStartedError,
  oneOf,
  resolveCurveKeys,
  resolveOptions,
  rules,
  systemClock,
  type Clock,
  type ConnectedEvent,
  type DisconnectedEvent,
  type Logger,
  type Message,
  type OptionRule,
  type RoleEvent,
  type SecurityOptions,
  type ServerSecurity,
  type SplitBrainEvent,
  type TimerHandle,
} from '@zpatterns/core';
import { applyPeerLimits, PeerLiveness, WarningLimiter } from '@zpatterns/core/internal';
import { initialState, transition, type BStarEvent, type BStarRole, type BStarState } from './fsm.js';
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
  heartbeatIntervalMs?: number | undefined;
  /** Time source. @default systemClock */
  clock?: Clock | undefined;
  /** Parent logger. @default silent */
  logger?: Logger | undefined;
  /**
   * Asked when both servers are active (split brain): true = stay active, false = step down. Both
   * servers must answer consistently (e.g. by comparing their data). @default the primary stays
   */
  resolveSplitBrain?: (() => boolean) | undefined;
  /**
   * CURVE on the state channel: `curve` is this server's key pair, and its `serverPublicKey` the
   * peer's public key (when absent, our own: both servers share one key file). Our state PUB then
   * admits only the peer's key (or whom `authorize` admits), and our state SUB only talks to a PUB
   * holding the peer's key. @default undefined (plain)
   */
  security?: SecurityOptions | undefined;
  /**
   * Largest frame the peer's state SUB and our state PUB accept, in bytes: libzmq drops a
   * connection that announces a bigger one. `-1` for no limit. @default 16777216 (16 MiB)
   */
  maxMessageBytes?: number | undefined;
}

/**
 * The book's timing: state published every 1000 ms (the peer is dead after two silent
 * heartbeats), on the system clock; frames up to 16 MiB.
 */
export const binaryStarDefaults = {
  heartbeatIntervalMs: BSTAR_HEARTBEAT_MS,
  clock: systemClock,
  maxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES,
} as const;

const maxMessageBytesRule: OptionRule = {
  must: 'a whole number of bytes >= 1, or -1 for no limit',
  test: (v) => Number.isSafeInteger(v) && ((v as number) >= 1 || v === -1),
};

const optionRules = {
  role: oneOf('primary', 'backup'),
  stateBind: rules.nonEmptyString,
  stateConnect: rules.nonEmptyString,
  heartbeatIntervalMs: rules.positive,
  resolveSplitBrain: rules.function,
  maxMessageBytes: maxMessageBytesRule,
};

/**
 * What `status()` yields besides `started` and `closed`: each change of this server's state
 * (`role`, `from`/`to` one of `primary`, `backup`, `active`, `passive`, with the reason in words),
 * each split brain (`split-brain`: both servers were active; `stays` says whether this one stays
 * active), and the peer answering or falling silent: `connected` when its state messages arrive
 * (first heard, or back after silence), `disconnected` (`reason: 'silent'`) once a peer that was
 * heard has been silent for two heartbeats (a client vote now makes this server active). `peer` is
 * the peer's state endpoint (`stateConnect`).
 */
export type BinaryStarStatus = RoleEvent | SplitBrainEvent | ConnectedEvent | DisconnectedEvent;

/** Counters of one `BinaryStar`. */
export interface BinaryStarStats {
  /** State messages published. */
  published: number;
  /** Valid peer state messages received. */
  peerMessages: number;
  /** Peer state messages that were not one frame holding one digit 1-4. */
  malformed: number;
  /** Client votes accepted (served). */
  accepted: number;
  /** Client votes rejected (dropped without a reply). */
  rejected: number;
  /** Split brains seen (both servers active). */
  splitBrains: number;
  /** Dual passives seen (both servers passive). */
  dualPassives: number;
  /** Times the peer was declared dead after two silent heartbeats. */
  peerExpiries: number;
}

/** What `BinaryStar.snapshot()` returns: the pair as this server sees it now. */
export interface BinaryStarSnapshot {
  /** Which server of the pair this is. */
  readonly role: BStarRole;
  /** Its state now. */
  readonly state: BStarState;
  /** How long it has been in that state (ms). */
  readonly stateMs: number;
  /** The peer: `alive`, `dead` (silent two heartbeats), or `unknown` (never heard). */
  readonly peer: 'alive' | 'dead' | 'unknown';
  /** How long ago the peer's last state message came (ms); `null` when never heard. */
  readonly peerLastHeardMs: number | null;
  /** Times this server went from passive to active (took over from its peer). */
  readonly failovers: number;
}

/**
 * One server of a Binary Star primary/backup pair (the book's bstar reactor). It publishes its
 * state every `heartbeatIntervalMs`, reads the peer's, runs the state machine, and decides per client
 * request whether this server may serve it (`vote()`, or `serve(channel, handler)`). Nothing
 * aborts: split brain and dual passive are notices on `status()` and in the log. `new
 * BinaryStar(options)` opens nothing and throws `InvalidArgumentError` for `heartbeatIntervalMs <= 0`;
 * `start()` resolves once the state PUB is bound, the state SUB connected and the first state
 * published (ready: votes count from then on, the peer having two heartbeats to show up). Calls
 * that need a started node throw or reject with core's `NotStartedError` before that.
 */
export class BinaryStar extends Component<BinaryStarStatus> {
  /** Which server of the pair this is. */
  readonly role: BStarRole;
  readonly #stats: BinaryStarStats = {
    published: 0,
    peerMessages: 0,
    malformed: 0,
    accepted: 0,
    rejected: 0,
    splitBrains: 0,
    dualPassives: 0,
    peerExpiries: 0,
  };
  readonly #options: {
    stateBind: string;
    stateConnect: string;
    resolveSplitBrain: (() => boolean) | undefined;
    security: SecurityOptions | undefined;
    maxMessageBytes: number;
    logger: Logger | undefined;
  };
  readonly #heartbeatIntervalMs: number;
  readonly #clock: Clock;
  readonly #log: Logger;
  /** Warnings about malformed state messages: at most 10 a second (every one is counted). */
  readonly #warnings: WarningLimiter;
  /** The peer's liveness: alive from any state message until two heartbeats of silence. */
  readonly #peer: PeerLiveness<string>;
  #pub: Channel<zmq.Publisher> | undefined;
  #sub: Channel<zmq.Subscriber> | undefined;
  #guard: ServerSecurity | undefined;
  #state: BStarState;
  #stateSince: number;
  #failovers = 0;
  #peerHeardAt: number | undefined;
  #stateEndpoint: string | undefined;
  #timer: TimerHandle | undefined;

  constructor(options: BinaryStarOptions) {
    super();
    const { role, heartbeatIntervalMs, clock, stateBind, stateConnect, ...rest } = resolveOptions(
      'BinaryStar',
      options,
      binaryStarDefaults,
      optionRules,
    );
    this.role = required('role', role, optionRules.role);
    this.#options = {
      ...rest,
      stateBind: required('stateBind', stateBind, rules.nonEmptyString),
      stateConnect: required('stateConnect', stateConnect, rules.nonEmptyString),
    };
    this.#heartbeatIntervalMs = heartbeatIntervalMs;
    this.#clock = clock;
    this.#log = componentLogger(rest.logger, { component: 'bstar', role: this.role });
    this.#warnings = new WarningLimiter(this.#log, this.#clock, 10);
    this.#state = initialState(this.role);
    this.#stateSince = this.#clock.now();
    this.#peer = new PeerLiveness<string>({
      ttlMs: this.#heartbeatIntervalMs * BSTAR_PEER_EXPIRY_HEARTBEATS,
      clock: this.#clock,
      onChange: (peer, state, silentMs) => {
        if (state === 'alive') {
          this.#log.info({ peer }, 'peer alive');
          this.emit({ type: 'connected', peer });
        } else {
          this.#stats.peerExpiries++;
          this.#log.warn({ peer, silentMs }, 'peer silent, counted as dead');
          // A peer never heard was never connected: only its silence after a message is a loss.
          if (this.#peerHeardAt !== undefined) this.emit({ type: 'disconnected', peer, reason: 'silent', silentMs });
        }
      },
    });
  }

  /** This server's state. */
  get state(): BStarState {
    return this.#state;
  }

  /** Whether this server is active (serves clients). */
  get isActive(): boolean {
    return this.#state === 'active';
  }

  /**
   * When the peer counts as dead unless it is heard from again (clock time): its last state
   * message, or `start()`, plus two heartbeats. `-Infinity` before `start()`.
   */
  get peerExpiresAt(): number {
    return this.#peer.lastSeen(this.#options.stateConnect) + this.#peer.ttlMs;
  }

  /** A snapshot of the counters; read it again for fresh figures. */
  get stats(): BinaryStarStats {
    return { ...this.#stats };
  }

  /** The pair as this server sees it now (for a status page). */
  snapshot(): BinaryStarSnapshot {
    const now = this.#clock.now();
    const peer = this.#peer.state(this.#options.stateConnect);
    return {
      role: this.role,
      state: this.#state,
      stateMs: Math.round(Math.max(0, now - this.#stateSince)),
      peer,
      peerLastHeardMs: this.#peerHeardAt === undefined ? null : Math.round(Math.max(0, now - this.#peerHeardAt)),
      failovers: this.#failovers,
    };
  }

  /** The bound endpoint of the state PUB (a wildcard port resolved); `NotStartedError` before `start()`. */
  get endpoints(): { readonly state: string } {
    if (this.#stateEndpoint === undefined) throw new NotStartedError('BinaryStar');
    return { state: this.#stateEndpoint };
  }

  /** Bind the state PUB, connect the state SUB, start the peer's expiry clock and publish. */
  protected async onStart(): Promise<void> {
    const options = this.#options;
    this.#pub = new Channel(new zmq.Publisher({ linger: 0 }), { name: 'bstar-state-pub', logger: this.#log });
    this.#sub = new Channel(new zmq.Subscriber({ linger: 0 }), { name: 'bstar-state-sub', logger: this.#log });
    const pair = pairSecurity(options.security);
    this.#guard = applyBindSecurity(this.#pub.socket, pair?.bind, options.logger, options.maxMessageBytes);
    applyPeerLimits(this.#sub.socket, options.maxMessageBytes);
    applyConnectSecurity(this.#sub.socket, pair?.connect);
    await this.#guard?.ready();
    await this.#pub.socket.bind(options.stateBind);
    this.#stateEndpoint = this.#pub.socket.lastEndpoint ?? options.stateBind;
    this.#sub.socket.subscribe();
    this.#sub.socket.connect(options.stateConnect);
    // Like bstar_start: the peer has two heartbeats to show up before a client vote counts.
    this.#peer.expect(options.stateConnect);
    const sub = this.#sub;
    void sub.start((message) => this.#onPeer(message));
    this.#log.info(
      { state: this.#state, stateBind: this.#stateEndpoint, stateConnect: options.stateConnect },
      'binary star started',
    );
    this.#publish();
  }

  /**
   * A client request arrived: feed it to the FSM as a vote. True means this server may serve it;
   * false means drop it without a reply (the client times out and tries the other server).
   * Synchronous, as it gates every request on the hot path (it is the broker's `clientVoter`):
   * it throws `NotStartedError` before `start()` has resolved (with no peer heard yet, a vote
   * would make a primary active at once) and returns false once closing has begun.
   */
  vote(): boolean {
    if (this.closeSignal.aborted) return false;
    this.assertRunning();
    const accepted = this.#apply('client-request');
    if (accepted) this.#stats.accepted++;
    else this.#stats.rejected++;
    return accepted;
  }

  /**
   * Gate a frontend: run `channel`'s receive loop, passing each message that wins its vote to
   * `handler` and dropping the others (the book's `bstar_voter`). Resolves when the channel
   * closes; rejects with `NotStartedError` before `start()` has resolved.
   */
  async serve<TSocket extends zmq.Socket & zmq.Readable>(
    channel: Channel<TSocket>,
    handler: (message: Message) => void | Promise<void>,
  ): Promise<void> {
    this.assertRunning();
    return channel.start((message) => (this.vote() ? handler(message) : undefined));
  }

  #onPeer(message: Message): void {
    const decoded = decodeState(message);
    if ('error' in decoded) {
      this.#stats.malformed++;
      this.#warnings.warn({ reason: decoded.error, frames: message.length }, 'garbage on the state socket ignored');
      return;
    }
    this.#stats.peerMessages++;
    // As the reactor does: the peer is alive as of this message, whatever the FSM makes of it.
    this.#peer.seen(this.#options.stateConnect);
    this.#peerHeardAt = this.#clock.now();
    this.#apply(decoded.event);
  }

  #apply(event: BStarEvent): boolean {
    const from = this.#state;
    const splitBrain = from === 'active' && event === 'peer-active';
    const result = transition(
      {
        role: this.role,
        state: from,
        peerExpiresAt: this.peerExpiresAt,
        splitBrainStays: splitBrain ? this.#options.resolveSplitBrain?.() : undefined,
      },
      event,
      this.#clock.now(),
    );
    if (result.notice?.type === 'split-brain') {
      const stays = result.next === 'active';
      this.#stats.splitBrains++;
      this.#log.error({ state: from, event, stays }, 'split brain: both servers active');
      this.emit({ type: 'split-brain', peer: this.#options.stateConnect, stays });
    } else if (result.notice?.type === 'dual-passive') {
      // Resolved by role: the primary's own change to active is a `role` event; the backup waits.
      this.#stats.dualPassives++;
      this.#log.error({ state: from, event }, 'dual passive: both servers passive');
    }
    if (result.next !== from) this.#setState(result.next, result.reason ?? event);
    return result.accept;
  }

  /** The one place the state changes: log, report on `status()`, publish at once. */
  #setState(to: BStarState, reason: string): void {
    const from = this.#state;
    this.#state = to;
    this.#stateSince = this.#clock.now();
    if (from === 'passive' && to === 'active') this.#failovers++;
    this.#log.info({ from, to, reason }, 'binary star state');
    this.emit({ type: 'role', from, to, reason });
    // Publish the news now rather than up to a heartbeat later: the peer settles faster.
    this.#publish();
  }

  #publish(): void {
    if (this.closeSignal.aborted || this.#pub === undefined) return;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    if (this.#pub.post(encodeState(this.#state))) this.#stats.published++;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.#publish();
    }, this.#heartbeatIntervalMs);
  }

  /** Stop publishing and close both state sockets (also after a partial start). */
  protected async onClose(): Promise<void> {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#peer.stop();
    await Promise.all([this.#pub?.close(), this.#sub?.close()]);
    await this.#guard?.release();
  }
}

/**
 * The pair's one `security` option as the two sides of the state link: our PUB admits the peer's
 * key (or whom `authorize` admits), our SUB expects the peer's key, our own when none is given.
 */
function pairSecurity(
  security: SecurityOptions | undefined,
): { bind: SecurityOptions; connect: SecurityOptions } | undefined {
  if (security === undefined) return undefined;
  const keys = resolveCurveKeys(security.curve);
  const peerPublicKey = security.curve.serverPublicKey ?? keys.publicKey;
  return {
    bind: { curve: keys, authorize: security.authorize ?? new Set([peerPublicKey]) },
    connect: { curve: { ...keys, serverPublicKey: peerPublicKey } },
  };
}

/** A required option, checked in core's one message style. */
function required<T>(option: string, value: T | undefined, rule: OptionRule): T {
  if (value === undefined || !rule.test(value)) throw invalidOption('BinaryStar', option, rule.must, value);
  return value;
}
