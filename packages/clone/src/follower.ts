/**
 * The replica loop shared by the client agent and the passive server of a pair: subscribe, take a
 * snapshot, then apply the update stream in strict sequence order, resyncing on a gap and moving
 * to the next server when the current one goes silent.
 *
 * ```
 *            +--> SUB  (P+1): wait for the first message (the subscription is live), keep reading
 *  server i -+
 *            +--> DEALER (P): ICANHAZ? per subtree -> KVSYNC* KTHXBAI   (timeout: next server)
 *
 *  then, per update:  seq <= held   -> stale, dropped
 *                     seq == held+1 -> applied                (following everything)
 *                     seq >  held+1 -> gap: new snapshot from the same server
 *                     HUGZ seq > held (gap at the tail) or < held (server restarted) -> new snapshot
 *                     silence for serverTtlMs -> next server, new snapshot
 * ```
 *
 * A replica that follows only some subtrees cannot see every sequence number, so for it a jump is
 * normal; it still detects a server restart (HUGZ below what it holds) and silence.
 */
import type { Logger, Message, SecurityOptions } from '@zpatterns/core';
import { applyConnectSecurity, InvalidArgumentError, toError } from '@zpatterns/core';
import * as zmq from 'zeromq';
import type { CloneClientStats } from './client.js';
import type { KvMsg } from './kvmsg.js';
import { ReplicaError } from './errors.js';
import { decodeKvMsg, encodeIcanhaz, HUGZ, inSubtree } from './kvmsg.js';

/** The two sockets a replica reads from one server. */
export interface ReplicaSource {
  /** The server's snapshot ROUTER (port P). */
  snapshot: string;
  /** The server's update PUB (port P+1). */
  publisher: string;
}

export interface FollowerOptions {
  sources: readonly ReplicaSource[];
  /** Subtrees to follow; `''` is everything. */
  subtrees: readonly string[];
  /** A server silent this long (no update, no HUGZ) is presumed dead. */
  serverTtlMs: number;
  lingerMs: number;
  security?: SecurityOptions | undefined;
  logger: Logger;
  /** A complete snapshot: replaces the replica's state. */
  onSnapshot(entries: KvMsg[], sequence: bigint, source: number): void;
  /** One update in order (deletes have an empty body). HUGZ are passed too, for liveness users. */
  onUpdate(msg: KvMsg): void;
  onHugz?(msg: KvMsg): void;
}

/** The follower's share of the client's counters (documented there). */
export type FollowerStats = Omit<CloneClientStats, 'sent' | 'watchOverflows' | 'commitsPending'>;

type Outcome = 'gap' | 'silent' | 'closed';
type SnapshotResult = { entries: KvMsg[]; sequence: bigint } | 'timeout' | 'closed';

/** The first resync after a gap is immediate; consecutive ones wait this, doubling up to serverTtlMs. */
const RESYNC_BACKOFF_MS = 100;

export class Follower {
  readonly #o: FollowerOptions;
  readonly #followsAll: boolean;
  readonly stats: FollowerStats = {
    snapshots: 0,
    updates: 0,
    stale: 0,
    gaps: 0,
    failovers: 0,
    snapshotTimeouts: 0,
    badMessages: 0,
  };
  #sequence = -1n;
  #current = 0;
  #closed = false;
  #sub: zmq.Subscriber | undefined;
  #dealer: zmq.Dealer | undefined;
  #loop: Promise<Error | undefined> | undefined;
  #failure: Error | undefined;
  #synced: Promise<void>;
  #markSynced: () => void = () => undefined;
  #failSynced: (err: Error) => void = () => undefined;
  /** This round's snapshot is not yet known to be joined seamlessly by the stream. */
  #unproven = false;
  #wakeBackoff: (() => void) | undefined;
  readonly #done: Promise<Error | undefined>;
  #resolveDone: (failure: Error | undefined) => void = () => undefined;

  constructor(options: FollowerOptions) {
    if (options.sources.length === 0) throw new InvalidArgumentError('clone: at least one server is needed');
    this.#o = options;
    this.#followsAll = options.subtrees.includes('');
    this.#synced = new Promise((resolve, reject) => {
      this.#markSynced = resolve;
      this.#failSynced = reject;
    });
    this.#synced.catch(() => undefined); // reported through start() and done
    this.#done = new Promise((resolve) => (this.#resolveDone = resolve));
  }

  /** The highest sequence applied (-1 before the first snapshot). */
  get sequence(): bigint {
    return this.#sequence;
  }

  /** Index of the server followed now: the one whose snapshot was taken last. */
  get current(): number {
    return this.#current;
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
      const index = this.#current;
      const source = this.#o.sources[index];
      if (source === undefined) return;
      const outcome = await this.#follow(source);
      if (outcome === 'closed') return;
      this.stats.failovers += 1;
      this.#current = (index + 1) % this.#o.sources.length;
      this.#o.logger.warn(
        { server: source.snapshot, next: this.#o.sources[this.#current]?.snapshot },
        'clone server silent, moving on',
      );
    }
  }

  /**
   * Follow one server until it goes silent or we close. The snapshot request goes out at once, with
   * the subscription: a passive server publishes nothing, so waiting for a first message would cost
   * a whole serverTtlMs per server. Stream messages that arrive meanwhile are kept and applied after
   * the snapshot. Whether the stream joins the snapshot without a hole is checked on the stream
   * itself (see #handle); a gap takes a new snapshot on the same, by then live, subscription.
   */
  async #follow(source: ReplicaSource): Promise<'silent' | 'closed'> {
    const ttl = this.#o.serverTtlMs;
    const sub = new zmq.Subscriber({ linger: this.#o.lingerMs, receiveTimeout: ttl });
    applyConnectSecurity(sub, this.#o.security);
    for (const s of this.#o.subtrees) sub.subscribe(s);
    if (!this.#followsAll) sub.subscribe(HUGZ); // the book's clients miss HUGZ here
    this.#sub = sub;
    let received = 0;
    let next = this.#receive(sub);
    try {
      sub.connect(source.publisher);
      for (let failures = 0; ;) {
        if (failures > 1 && (await this.#backoff(Math.min(ttl, RESYNC_BACKOFF_MS * 2 ** (failures - 2))))) {
          return 'closed';
        }
        const liveBefore = received > 0;
        const early: Message[] = [];
        let snapshot: SnapshotResult | undefined;
        const request = this.#snapshot(source).then((s) => {
          snapshot = s;
        });
        while (snapshot === undefined) {
          const first = await Promise.race([request.then(() => 'snapshot' as const), next]);
          if (first === 'snapshot') break;
          if (first === 'closed') return 'closed';
          if (first !== 'timeout') {
            received += 1;
            early.push(first);
          }
          next = this.#receive(sub);
        }
        // `snapshot` is set once `request` has settled
        const got = snapshot;
        if (got === undefined) throw new ReplicaError('clone: snapshot request settled without a result');
        if (got === 'closed') return 'closed';
        if (got === 'timeout') {
          this.stats.snapshotTimeouts += 1;
          return 'silent';
        }
        this.stats.snapshots += 1;
        this.#sequence = got.sequence;
        this.#unproven = !liveBefore;
        this.#current = this.#o.sources.indexOf(source);
        this.#o.onSnapshot(got.entries, got.sequence, this.#current);
        this.#markSynced();
        let outcome: Outcome | undefined;
        let applied = 0;
        for (const message of early) {
          outcome = this.#handle(message);
          if (outcome !== undefined) break;
          applied += 1;
        }
        while (outcome === undefined) {
          const message = await next;
          if (message === 'closed') return 'closed';
          if (message === 'timeout') return 'silent';
          received += 1;
          next = this.#receive(sub);
          outcome = this.#handle(message);
          if (outcome === undefined) applied += 1;
        }
        if (outcome === 'closed') return 'closed';
        if (outcome === 'silent') return 'silent';
        failures = applied > 0 ? 1 : failures + 1;
      }
    } finally {
      this.#sub = undefined;
      sub.close();
      void next.catch(() => undefined);
    }
  }

  /** Wait `ms` (cut short by close()); true when closed meanwhile. */
  async #backoff(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.#wakeBackoff = resolve;
      timer = setTimeout(resolve, ms);
    });
    clearTimeout(timer);
    this.#wakeBackoff = undefined;
    return this.#closed;
  }

  /** Apply one stream message; returns an outcome when the loop must resync. */
  #handle(message: Message): Outcome | undefined {
    let msg: KvMsg;
    try {
      msg = decodeKvMsg(message);
    } catch {
      this.stats.badMessages += 1;
      return undefined;
    }
    const isHugz = msg.key === 'HUGZ';
    // A subtree follower subscribes to the prefix HUGZ, which also matches keys such as HUGZ/x.
    if (!isHugz && !this.#followsAll && !this.#o.subtrees.some((s) => inSubtree(msg.key, s))) return undefined;
    if (this.#unproven && msg.sequence !== 0n) {
      // Anything published at or before the snapshot's point, or the very next update, shows the
      // subscription was live in time: the stream joins the snapshot. A later one may not.
      if (msg.sequence <= this.#sequence || (!isHugz && msg.sequence === this.#sequence + 1n)) this.#unproven = false;
      else return this.#gap(msg.sequence, 'first message after the snapshot');
    }
    if (isHugz) {
      this.#o.onHugz?.(msg);
      // 12/CHP's text sends HUGZ with sequence 0 (the book's code sends its current one): 0 says
      // nothing about the server's position, so only a non-zero HUGZ is checked.
      if (msg.sequence === 0n) return undefined;
      if (msg.sequence < this.#sequence || (this.#followsAll && msg.sequence > this.#sequence)) {
        return this.#gap(msg.sequence, 'HUGZ');
      }
      return undefined;
    }
    if (msg.sequence <= this.#sequence) {
      this.stats.stale += 1;
      return undefined;
    }
    if (this.#followsAll && msg.sequence !== this.#sequence + 1n) return this.#gap(msg.sequence, 'update');
    this.#sequence = msg.sequence;
    this.stats.updates += 1;
    this.#o.onUpdate(msg);
    return undefined;
  }

  #gap(seen: bigint, on: string): Outcome {
    this.stats.gaps += 1;
    this.#o.logger.warn({ held: this.#sequence, seen, on }, 'sequence gap, taking a new snapshot');
    return 'gap';
  }

  async #receive(socket: zmq.Subscriber | zmq.Dealer): Promise<Message | 'timeout' | 'closed'> {
    try {
      return await socket.receive();
    } catch (err) {
      if (this.#closed || socket.closed) return 'closed';
      if ((err as { code?: string }).code === 'EAGAIN') return 'timeout';
      throw err;
    }
  }

  async #snapshot(source: ReplicaSource): Promise<SnapshotResult> {
    const dealer = new zmq.Dealer({ linger: 0, receiveTimeout: this.#o.serverTtlMs });
    applyConnectSecurity(dealer, this.#o.security);
    this.#dealer = dealer;
    dealer.connect(source.snapshot);
    const entries = new Map<string, KvMsg>();
    // Each subtree's KTHXBAI carries the server's sequence at that moment; the stream is applied
    // from the lowest of them, so nothing published between two subtree snapshots is skipped.
    let sequence: bigint | undefined;
    const subtrees = this.#followsAll ? [''] : this.#o.subtrees;
    try {
      for (const subtree of subtrees) {
        await dealer.send(encodeIcanhaz(subtree));
        for (;;) {
          const frames = await this.#receive(dealer);
          if (frames === 'closed' || frames === 'timeout') return frames;
          let msg: KvMsg;
          try {
            msg = decodeKvMsg(frames);
          } catch {
            this.stats.badMessages += 1;
            continue;
          }
          if (msg.key === 'KTHXBAI') {
            if (sequence === undefined || msg.sequence < sequence) sequence = msg.sequence;
            break;
          }
          if (msg.body.length > 0) entries.set(msg.key, msg);
        }
      }
    } catch (err) {
      if (this.#closed) return 'closed';
      throw err;
    } finally {
      this.#dealer = undefined;
      dealer.close();
    }
    return { entries: [...entries.values()], sequence: sequence ?? 0n };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#sub?.close();
    this.#dealer?.close();
    this.#wakeBackoff?.();
    this.#markSynced();
    await this.#loop;
    this.#resolveDone(undefined);
  }
}
