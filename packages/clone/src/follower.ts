/**
 * The replica loop shared by the client agent and the passive server of a pair: subscribe, take a
 * snapshot, then apply the update stream in strict sequence order (the rules are
 * `ReplicaCursor`'s), resyncing on a gap and moving to the next server when the current one goes
 * silent.
 *
 * ```
 *            +--> SUB  (P+1): every message is a sign of life; updates applied in order
 *  server i -+
 *            +--> DEALER (P): ICANHAZ? per subtree -> KVSYNC* KTHXBAI   (no reply for serverTtlMs: next server)
 *
 *  silence of server i for serverTtlMs (PeerLiveness)  -> server-dead, failover to i+1 (ServerRotation)
 *  a gap, a HUGZ ahead, a HUGZ behind (ReplicaCursor)  -> resync: new snapshot from the same server
 * ```
 */
import type { Clock, Message, TimerHandle } from '@zpatterns/core';
import { InvalidArgumentError, systemClock, toError } from '@zpatterns/core';
import { applyConnectSecurity, ServerRotation, applyPeerLimits, PeerLiveness } from '@zpatterns/core/internal';
import * as zmq from 'zeromq';
import { ReplicaCursor } from './cursor.js';
import { ReplicaError } from './errors.js';
import type { FollowerOptions, FollowerStats, ReplicaSource } from './follower-options.js';
import type { KvMsg } from './kvmsg.js';
import { decodeKvMsg, HUGZ } from './kvmsg.js';
import { OVER_LIMIT, watchPeerLink } from './peer-link.js';
import { SnapshotRequest, type SnapshotResult } from './snapshot-request.js';

export type { FollowerEvent, FollowerOptions, FollowerStats, ReplicaSource } from './follower-options.js';

/** The first resync after a gap is immediate; consecutive ones wait this, doubling up to serverTtlMs. */
const RESYNC_BACKOFF_MS = 100;

/**
 * Follows one server of `sources` at a time (see the diagram above). `start()` resolves once the
 * first snapshot is in; `done` resolves when the loop ends.
 */
export class Follower {
  readonly #o: FollowerOptions;
  readonly #clock: Clock;
  readonly #cursor: ReplicaCursor;
  readonly #rotation: ServerRotation<ReplicaSource>;
  /** Silence of each server: any message on the stream or the snapshot socket is a sign of life. */
  readonly #liveness: PeerLiveness<number>;
  /** Progress of the snapshot in flight: each reply is a sign of life; none for serverTtlMs ends it. */
  readonly #reply: PeerLiveness<number>;
  readonly #stats = {
    snapshots: 0,
    updates: 0,
    stale: 0,
    gaps: 0,
    snapshotTimeouts: 0,
    malformed: 0,
  };
  #closed = false;
  #sub: zmq.Subscriber | undefined;
  #request: SnapshotRequest | undefined;
  #loop: Promise<Error | undefined> | undefined;
  #failure: Error | undefined;
  readonly #synced: Promise<void>;
  #markSynced: () => void = () => undefined;
  #failSynced: (err: Error) => void = () => undefined;
  /** Wakes the loop when the server followed goes silent. */
  #onSilent: (() => void) | undefined;
  /** The server whose snapshot was applied and which has not gone silent since. */
  #connected: number | undefined;
  #wakeBackoff: (() => void) | undefined;
  readonly #done: Promise<Error | undefined>;
  #resolveDone: (failure: Error | undefined) => void = () => undefined;

  constructor(options: FollowerOptions) {
    if (options.sources.length === 0) throw new InvalidArgumentError('clone: at least one server is needed');
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.#cursor = new ReplicaCursor(options.subtrees);
    this.#rotation = new ServerRotation(options.sources);
    this.#liveness = new PeerLiveness<number>({
      ttlMs: options.serverTtlMs,
      clock: this.#clock,
      onChange: (server, state, silentMs) => {
        if (state !== 'dead') return;
        this.#o.onEvent?.({ type: 'server-dead', server, silentMs });
        if (server === this.#rotation.index) this.#onSilent?.();
      },
    });
    this.#reply = new PeerLiveness<number>({
      ttlMs: options.serverTtlMs,
      clock: this.#clock,
      onChange: (_, state) => {
        if (state === 'dead') this.#request?.timeout();
      },
    });
    this.#synced = new Promise((resolve, reject) => {
      this.#markSynced = resolve;
      this.#failSynced = reject;
    });
    this.#synced.catch(() => undefined); // reported through start() and done
    this.#done = new Promise((resolve) => (this.#resolveDone = resolve));
  }

  /** A snapshot of the counters. */
  get stats(): FollowerStats {
    return { ...this.#stats, failovers: this.#rotation.failovers };
  }

  /** The highest sequence applied (-1 before the first snapshot). */
  get sequence(): bigint {
    return this.#cursor.sequence;
  }

  /** Index of the server followed now: the one whose snapshot was taken last. */
  get current(): number {
    return this.#rotation.index;
  }

  /** Why the loop stopped, when it stopped on an error. */
  get failure(): Error | undefined {
    return this.#failure;
  }

  /**
   * Start the loop; the promise resolves once the first snapshot is in, and rejects with a
   * `ReplicaError` if the loop fails first.
   */
  start(): Promise<void> {
    this.#loop ??= this.#run().then(
      () => undefined,
      (err: unknown) => {
        if (this.#closed) return undefined;
        const failure = new ReplicaError(`clone replica loop failed: ${toError(err).message}`, { cause: err });
        this.#failure = failure;
        this.#o.logger.error({ err: toError(err) }, 'replica loop failed; no longer following any server');
        this.#failSynced(failure);
        return failure;
      },
    );
    void this.#loop.then((failure) => this.#resolveDone(failure));
    return this.#synced;
  }

  /** Resolves when the loop has ended: `undefined` after close(), the error when it failed. */
  get done(): Promise<Error | undefined> {
    return this.#done;
  }

  async #run(): Promise<void> {
    while (!this.#closed) {
      const index = this.#rotation.index;
      const outcome = await this.#follow(index);
      if (outcome === 'closed') return;
      this.#connected = undefined;
      // Left for silence: the server is dead whichever timer saw it first.
      this.#liveness.lost(index);
      if (this.#o.sources.length === 1) continue;
      this.#rotation.failover();
      const to = this.#rotation.index;
      this.#o.logger.warn(
        { server: this.#o.sources[index]?.snapshot, next: this.#o.sources[to]?.snapshot },
        'clone server silent, moving on',
      );
      this.#o.onEvent?.({ type: 'failover', from: index, to });
    }
  }

  /**
   * Follow one server until it goes silent or we close. The snapshot request goes out at once, with
   * the subscription: a passive server publishes nothing, so waiting for a first message would cost
   * a whole serverTtlMs per server. Stream messages that arrive meanwhile are kept and applied after
   * the snapshot. Whether the stream joins the snapshot without a hole is checked on the stream
   * itself (see ReplicaCursor); a gap takes a new snapshot on the same, by then live, subscription.
   */
  async #follow(index: number): Promise<'silent' | 'closed'> {
    const source = this.#o.sources[index] as ReplicaSource;
    const ttl = this.#o.serverTtlMs;
    const sub = new zmq.Subscriber({ linger: this.#o.lingerMs });
    applyConnectSecurity(sub, this.#o.security);
    if (this.#o.limitFrames === true) {
      applyPeerLimits(sub, this.#o.maxMessageBytes);
      watchPeerLink(sub, source.publisher, () => this.#bad('subscriber', OVER_LIMIT));
    }
    for (const s of this.#o.subtrees) sub.subscribe(s);
    if (!this.#cursor.followsAll) sub.subscribe(HUGZ); // the book's clients miss HUGZ here
    this.#sub = sub;
    // Silence settles `silence` and closes the subscriber, which fails the pending receive
    // (`next`): the hot loop below awaits zeromq.js's own promise alone, with no wrapper and no
    // race per message (a Promise.race with the long-lived `silence` would leave one reaction on it
    // per message, held until it settles: memory and GC growing with the stream).
    let silent = false;
    let settleSilence: (value: 'silent') => void = () => undefined;
    const silence = new Promise<'silent'>((resolve) => (settleSilence = resolve));
    this.#onSilent = () => {
      silent = true;
      settleSilence('silent');
      sub.close();
    };
    /** Why the receive failed: silence or a close ended it; anything else is the loop's failure. */
    const ended = (err: unknown): 'silent' | 'closed' => {
      if (silent) return 'silent';
      if (this.#closed || sub.closed) return 'closed';
      throw toError(err);
    };
    this.#liveness.expect(index);
    let received = 0;
    let next = receive(sub);
    try {
      sub.connect(source.publisher);
      for (let failures = 0; ;) {
        if (failures > 1 && (await this.#backoff(Math.min(ttl, RESYNC_BACKOFF_MS * 2 ** (failures - 2))))) {
          return 'closed';
        }
        const liveBefore = received > 0;
        const early: Message[] = [];
        let snapshot: SnapshotResult | undefined;
        const request = this.#snapshot(index, source).then((s) => {
          snapshot = s;
        });
        while (snapshot === undefined) {
          const first = await Promise.race([request.then(() => 'snapshot' as const), next.catch(ended), silence]);
          if (first === 'snapshot') break;
          if (first === 'closed') return 'closed';
          if (first === 'silent') {
            this.#stats.snapshotTimeouts += 1;
            this.#request?.timeout(); // the snapshot request ends as timed out
            await request;
            return 'silent';
          }
          received += 1;
          this.#liveness.seen(index);
          early.push(first);
          next = receive(sub);
        }
        // `snapshot` is set once `request` has settled
        const got = snapshot;
        if (got === undefined) throw new ReplicaError('clone: snapshot request settled without a result');
        if (got === 'closed') return 'closed';
        if (got === 'timeout') {
          this.#stats.snapshotTimeouts += 1;
          return 'silent';
        }
        this.#stats.snapshots += 1;
        this.#cursor.snapshot(got.sequence, liveBefore);
        this.#o.onSnapshot(got.entries, got.sequence, index);
        this.#markSynced();
        if (this.#connected !== index) {
          this.#connected = index;
          this.#o.onEvent?.({ type: 'connected', server: index });
        }
        let resync = false;
        let applied = 0;
        for (const message of early) {
          resync = this.#handle(message, index);
          if (resync) break;
          applied += 1;
        }
        while (!resync) {
          if (silent) return 'silent';
          let message: Message;
          try {
            message = await next;
          } catch (err) {
            return ended(err);
          }
          received += 1;
          this.#liveness.seen(index);
          next = receive(sub);
          resync = this.#handle(message, index);
          if (!resync) applied += 1;
        }
        failures = applied > 0 ? 1 : failures + 1;
      }
    } finally {
      this.#onSilent = undefined;
      this.#sub = undefined;
      sub.close();
      void next.catch(() => undefined);
    }
  }

  #bad(socket: 'subscriber' | 'snapshot', reason: string): void {
    this.#stats.malformed += 1;
    this.#o.onBadMessage?.(socket, reason);
  }

  /** Wait `ms` (cut short by close()); true when closed meanwhile. */
  async #backoff(ms: number): Promise<boolean> {
    let timer: TimerHandle | undefined;
    await new Promise<void>((resolve) => {
      this.#wakeBackoff = resolve;
      timer = this.#clock.setTimeout(resolve, ms);
    });
    if (timer !== undefined) this.#clock.clearTimeout(timer);
    this.#wakeBackoff = undefined;
    return this.#closed;
  }

  /** Apply one stream message; true when the loop must resync. */
  #handle(message: Message, server: number): boolean {
    let msg: KvMsg;
    try {
      msg = decodeKvMsg(message);
    } catch (err) {
      this.#bad('subscriber', toError(err).message);
      return false;
    }
    const verdict = this.#cursor.next(msg);
    switch (verdict.kind) {
      case 'apply':
        this.#stats.updates += 1;
        this.#o.onUpdate(msg);
        return false;
      case 'stale':
        this.#stats.stale += 1;
        return false;
      case 'hugz':
        this.#o.onHugz?.(msg);
        return false;
      case 'ignore':
        return false;
      case 'resync':
        if (msg.key === 'HUGZ') this.#o.onHugz?.(msg);
        this.#stats.gaps += 1;
        this.#o.logger.warn(
          { held: verdict.held, seen: verdict.seen, reason: verdict.reason },
          'sequence gap, taking a new snapshot',
        );
        this.#o.onEvent?.({ type: 'resync', server, reason: verdict.reason });
        return true;
    }
  }

  /** Ask `source` for a snapshot; no reply for serverTtlMs (between replies) is a timeout. */
  async #snapshot(index: number, source: ReplicaSource): Promise<SnapshotResult> {
    if (this.#closed) return 'closed';
    const request = new SnapshotRequest(source.snapshot, this.#cursor.followsAll ? [''] : this.#o.subtrees, {
      security: this.#o.security,
      limitFrames: this.#o.limitFrames,
      maxMessageBytes: this.#o.maxMessageBytes,
      onReply: () => {
        this.#reply.seen(index);
        this.#liveness.seen(index);
      },
      onBadMessage: (reason) => this.#bad('snapshot', reason),
    });
    this.#request = request;
    this.#reply.seen(index); // the wait for a reply starts now
    try {
      return await request.result;
    } finally {
      this.#request = undefined;
      this.#reply.delete(index);
    }
  }

  /** Stop the loop and close its sockets; resolves once the loop has ended. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#liveness.stop();
    this.#reply.stop();
    this.#sub?.close();
    this.#request?.close();
    this.#wakeBackoff?.();
    this.#markSynced();
    await this.#loop;
    this.#resolveDone(undefined);
  }
}

/** The subscriber's next message; a socket closed meanwhile fails the promise rather than throwing. */
function receive(sub: zmq.Subscriber): Promise<Message> {
  try {
    return sub.receive();
  } catch (err) {
    return Promise.reject(toError(err));
  }
}
