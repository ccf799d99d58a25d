/**
 * The passive role: follow the active peer as a replica (a `Follower` with gap detection: a
 * snapshot, then its update stream), commit what is replicated, and hold the clients' updates
 * until the active publishes them. A passive that lost a split brain hands its term over after
 * each snapshot of the winner until all of it went (hand-over.ts).
 */
import type { SecurityOptions } from '@zpatterns/core';
import { ProtocolError } from '@zpatterns/core';
import { Follower, type FollowerEvent } from './follower.js';
import type { TermHandOver } from './hand-over.js';
import type { KvMsg } from './kvmsg.js';
import type { ClonePeerAddress } from './server-options.js';
import type { ServerContext, ServerRole } from './server-role.js';

export interface PassiveRoleOptions {
  /** The active peer. */
  peer: ClonePeerAddress;
  /** The peer silent this long: the replica asks again. */
  peerTtlMs: number;
  /** A held client update the live active has not published within this is dropped. */
  pendingTtlMs: number;
  /** CURVE toward the peer. */
  security: SecurityOptions | undefined;
  /** The server's own frame limit, on the replica's links to the peer too. */
  maxMessageBytes: number;
  /** What this server sequenced as the loser of a split brain, to hand to the winner. */
  handOver?: TermHandOver | undefined;
}

export class PassiveRole implements ServerRole {
  readonly name = 'passive';
  readonly #ctx: ServerContext;
  readonly #o: PassiveRoleOptions;
  readonly #follower: Follower;
  #left = false;

  constructor(ctx: ServerContext, options: PassiveRoleOptions) {
    this.#ctx = ctx;
    this.#o = options;
    this.#follower = new Follower({
      sources: [options.peer],
      subtrees: [''],
      serverTtlMs: options.peerTtlMs,
      lingerMs: 0,
      clock: ctx.clock,
      security: options.security,
      logger: ctx.log.child({ peer: true }),
      limitFrames: true,
      maxMessageBytes: options.maxMessageBytes,
      onBadMessage: (socket, reason) => {
        if (!this.#left) ctx.bad(new ProtocolError(reason), `peer-${socket}`);
      },
      onSnapshot: (entries, sequence) => {
        if (!this.#left) this.#onSnapshot(entries, sequence);
      },
      onUpdate: (msg) => {
        if (!this.#left) this.#onUpdate(msg);
      },
      onHugz: () => {
        if (!this.#left) ctx.pending.prune(options.pendingTtlMs);
      },
      onEvent: (event) => {
        if (!this.#left) this.#onEvent(event);
      },
    });
  }

  /** Start following; a replica loop that fails makes the server unhealthy. */
  start(): void {
    const follower = this.#follower;
    void follower.start().catch(() => undefined); // reported by done, below
    void follower.done.then((failure) => {
      if (failure === undefined || this.#left) return;
      this.#ctx.unhealthy('replica', failure);
    });
  }

  update(update: KvMsg): void {
    this.#ctx.pending.hold(update);
  }

  flush(): void {
    this.#ctx.batch.commitReplicated();
  }

  tick(): void {}

  heartbeat(): void {} // only the active sends HUGZ: a client left on a passive moves on

  async leave(): Promise<void> {
    this.flush();
    this.#left = true;
    await this.#follower.close();
  }

  /** A snapshot of the active replaced the map (and the journal follows, whole). */
  #onSnapshot(entries: KvMsg[], sequence: bigint): void {
    const ctx = this.#ctx;
    ctx.store.replace(
      entries.map((msg) => ({ msg })),
      sequence,
      ctx.clock.now(),
    );
    ctx.pending.dropAll();
    for (const e of entries) if (e.uuid.length > 0) ctx.sequenced.remember(e.uuid);
    ctx.batch.replaceAll();
    this.#o.handOver?.afterSnapshot();
  }

  #onUpdate(msg: KvMsg): void {
    const ctx = this.#ctx;
    ctx.stats.replicated += 1;
    if (msg.uuid.length > 0) ctx.sequenced.remember(msg.uuid);
    ctx.pending.published(msg);
    ctx.store.applySequenced(msg, ctx.clock.now());
    if (ctx.batch.journal !== undefined) ctx.batch.append(msg);
  }

  /** How the replica of the active goes, on the server's status feed (`peer`: its snapshot endpoint). */
  #onEvent(event: FollowerEvent): void {
    const peer = this.#o.peer.snapshot;
    if (event.type === 'connected') this.#ctx.emit({ type: 'connected', peer });
    else if (event.type === 'server-dead') {
      this.#ctx.emit({ type: 'disconnected', peer, reason: 'silent', silentMs: event.silentMs });
    } else if (event.type === 'resync') {
      // the replica's `hugz` (a HUGZ names a sequence never received) is the vocabulary's `behind`
      this.#ctx.emit({ type: 'resync', peer, reason: event.reason === 'hugz' ? 'behind' : event.reason });
    }
  }
}
