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
import { applyConnectSecurity, toError } from '@zpatterns/core';
import * as zmq from 'zeromq';
import type { KvMsg } from './kvmsg.js';
import { decodeKvMsg, encodeIcanhaz, HUGZ } from './kvmsg.js';

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

export interface FollowerStats {
  snapshots: number;
  updates: number;
  stale: number;
  gaps: number;
  failovers: number;
  snapshotTimeouts: number;
  badMessages: number;
}

type Outcome = 'gap' | 'silent' | 'closed';

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
  #loop: Promise<void> | undefined;
  #synced: Promise<void>;
  #markSynced: () => void = () => undefined;

  constructor(options: FollowerOptions) {
    if (options.sources.length === 0) throw new RangeError('clone: at least one server is needed');
    this.#o = options;
    this.#followsAll = options.subtrees.includes('');
    this.#synced = new Promise((resolve) => (this.#markSynced = resolve));
  }

  /** The highest sequence applied (-1 before the first snapshot). */
  get sequence(): bigint {
    return this.#sequence;
  }

  /** Index of the server followed now. */
  get current(): number {
    return this.#current;
  }

  /** Start the loop; the promise resolves once the first snapshot is in. */
  start(): Promise<void> {
    this.#loop ??= this.#run().catch((err: unknown) => {
      if (!this.#closed) this.#o.logger.error({ err: toError(err) }, 'replica loop failed');
    });
    return this.#synced;
  }

  async #run(): Promise<void> {
    while (!this.#closed) {
      const index = this.#current;
      const source = this.#o.sources[index];
      if (source === undefined) return;
      const outcome = await this.#follow(source, index);
      if (outcome === 'closed') return;
      if (outcome === 'gap') continue;
      this.stats.failovers += 1;
      this.#current = (index + 1) % this.#o.sources.length;
      this.#o.logger.warn(
        { server: source.snapshot, next: this.#o.sources[this.#current]?.snapshot },
        'clone server silent, moving on',
      );
    }
  }

  /** Follow one server until it goes silent, a gap forces a resync, or we close. */
  async #follow(source: ReplicaSource, index: number): Promise<Outcome> {
    const ttl = this.#o.serverTtlMs;
    const sub = new zmq.Subscriber({ linger: this.#o.lingerMs, receiveTimeout: ttl });
    applyConnectSecurity(sub, this.#o.security);
    for (const s of this.#o.subtrees) sub.subscribe(s);
    if (!this.#followsAll) sub.subscribe(HUGZ); // the book's clients miss HUGZ here (hazard H-K8)
    this.#sub = sub;
    try {
      sub.connect(source.publisher);
      // The first message proves our subscription has reached the server: from here on nothing
      // published is missed, so the snapshot plus the stream is complete.
      const first = await this.#receive(sub);
      if (first === 'closed') return 'closed';
      const snapshot = await this.#snapshot(source);
      if (snapshot === 'closed') return 'closed';
      if (snapshot === 'timeout') {
        this.stats.snapshotTimeouts += 1;
        return 'silent';
      }
      this.stats.snapshots += 1;
      this.#sequence = snapshot.sequence;
      this.#o.onSnapshot(snapshot.entries, snapshot.sequence, index);
      this.#markSynced();
      if (first !== 'timeout') {
        const r = this.#handle(first);
        if (r !== undefined) return r;
      }
      for (;;) {
        const message = await this.#receive(sub);
        if (message === 'closed') return 'closed';
        if (message === 'timeout') return 'silent';
        const r = this.#handle(message);
        if (r !== undefined) return r;
      }
    } finally {
      this.#sub = undefined;
      sub.close();
    }
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
    if (msg.key === 'HUGZ') {
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

  async #snapshot(source: ReplicaSource): Promise<{ entries: KvMsg[]; sequence: bigint } | 'timeout' | 'closed'> {
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
    this.#markSynced();
    await this.#loop;
  }
}
