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
  Component,
  NotStartedError,
  resolveOptions,
  rules,
  type Clock,
  type Logger,
  type Message,
  type SecurityOptions,
  type TimerHandle,
} from '@zpatterns/core';
import {
  applyBindSecurity,
  applyConnectSecurity,
  Channel,
  componentLogger,
  type ServerSecurity,
  applyPeerLimits,
  PeerLiveness,
  WarningLimiter,
} from '@zpatterns/core/internal';
import {
  binaryStarDefaults,
  binaryStarRules,
  pairSecurity,
  required,
  type BinaryStarOptions,
  type BinaryStarSnapshot,
  type BinaryStarStats,
  type BinaryStarStatus,
} from './binary-star-options.js';
import { initialState, transition, type BStarEvent, type BStarRole, type BStarState } from './fsm.js';
import { BSTAR_PEER_EXPIRY_HEARTBEATS, decodeState, encodeState } from './protocol.js';

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
      binaryStarRules,
    );
    this.role = required('role', role, binaryStarRules.role);
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
