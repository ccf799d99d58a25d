/**
 * A Clone server's side of a Binary Star pair: Binary Star itself (its vote gates snapshot
 * requests, its role changes drive the server's), the split-brain decision and hand-over, and the
 * watch on the peer's HUGZ. Every use of `@zpatterns/bstar` is here.
 */
import type { Clock, Logger, Message } from '@zpatterns/core';
import type { Channel } from '@zpatterns/core/internal';
import { toError } from '@zpatterns/core';
import { BinaryStar, BSTAR_HEARTBEAT_MS } from '@zpatterns/bstar';
import type * as zmq from 'zeromq';
import { serverAddress } from './address.js';
import { SplitBrainSide, type SplitBrainSideOptions } from './hand-over.js';
import { peerSecurity, withPeerAdmitted } from './pair-security.js';
import { PeerHugzWatch } from './peer-hugz.js';
import type { ClonePairOptions, ClonePeerAddress, ResolvedServerOptions } from './server-options.js';

/** What the pair needs of its server. */
export type PairHooks = Pick<
  SplitBrainSideOptions,
  'sequence' | 'active' | 'freeze' | 'divergent' | 'decided' | 'handedOver' | 'resume'
> & {
  /** Binary Star made this server active. */
  becomeActive(): void;
  /** Binary Star made this server passive. */
  becomePassive(): void;
};

export class ClonePair {
  /** The peer's endpoints. */
  readonly peer: ClonePeerAddress;
  readonly bstar: BinaryStar;
  readonly splitBrain: SplitBrainSide;
  readonly #hooks: PairHooks;
  readonly #o: ResolvedServerOptions;
  readonly #log: Logger;
  #hugz: PeerHugzWatch | undefined;

  constructor(pair: ClonePairOptions, o: ResolvedServerOptions, clock: Clock, log: Logger, hooks: PairHooks) {
    this.#hooks = hooks;
    this.#o = o;
    this.#log = log;
    const peer = (this.peer = typeof pair.peer === 'string' ? serverAddress(pair.peer) : pair.peer);
    const heartbeatIntervalMs = pair.heartbeatIntervalMs ?? BSTAR_HEARTBEAT_MS;
    this.splitBrain = new SplitBrainSide({
      ...hooks,
      role: pair.role,
      heartbeatMs: heartbeatIntervalMs,
      peer,
      security: peerSecurity(o.security),
      maxMessageBytes: o.maxMessageBytes,
      dataDir: o.dataDir,
      clock,
      log,
      peerLastHugz: () => this.#hugz?.lastSequence,
    });
    const security = withPeerAdmitted(o.security, true);
    const splitBrain = this.splitBrain;
    this.bstar = new BinaryStar({
      role: pair.role,
      stateBind: pair.stateBind,
      stateConnect: pair.stateConnect,
      clock,
      heartbeatIntervalMs,
      maxMessageBytes: o.maxMessageBytes,
      logger: o.logger,
      resolveSplitBrain: () => splitBrain.arbiter.onPeerActive(),
      security: peerSecurity(security),
    });
  }

  /**
   * Hear the peer's HUGZ (what it last showed of its sequence, for the split-brain log; `bad` gets
   * what is malformed there, `unusable` an endpoint that cannot be connected to), follow Binary
   * Star's role changes and start it.
   */
  async start(bad: (err: unknown) => void, unusable: (err: Error) => void): Promise<void> {
    void this.#follow(this.bstar.status()); // subscribed before the first change
    const hugz = (this.#hugz = new PeerHugzWatch(peerSecurity(this.#o.security), this.#o.maxMessageBytes, this.#log));
    try {
      hugz.start(this.peer.hugz ?? this.peer.publisher, bad);
    } catch (err) {
      unusable(toError(err));
    }
    await this.bstar.start();
  }

  /**
   * Serve `channel` (the snapshot ROUTER): the peer's split-brain question is answered, a client's
   * request is a vote, passed to `accept` when it wins, else counted by `rejected`.
   */
  serve(
    channel: Channel<zmq.Router>,
    accept: (message: Message) => void,
    rejected: () => void,
    bad: (err: unknown, identity: Buffer) => void,
  ): void {
    const post = (frames: Buffer[]): boolean => channel.post(frames);
    void channel.start((m) => {
      if (this.splitBrain.answer(m, post, bad)) return;
      if (this.bstar.vote()) accept(m);
      else rejected();
    });
  }

  async close(): Promise<void> {
    this.splitBrain.close();
    await this.bstar.close();
    await this.#hugz?.close();
  }

  /** Binary Star's role changes, read from its status feed. */
  async #follow(feed: ReturnType<BinaryStar['status']>): Promise<void> {
    for await (const event of feed) {
      if (event.type !== 'role') continue;
      if (event.to === 'active') this.#hooks.becomeActive();
      else if (event.to === 'passive') this.#hooks.becomePassive();
    }
  }
}
