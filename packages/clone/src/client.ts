/**
 * CloneClient: the clone agent. Keeps a local replica of one or more subtrees of a Clone server (or
 * an HA pair), and publishes updates to every server's collector.
 *
 * ```
 *            DEALER --ICANHAZ? subtree--> server P      (snapshot, on start, gap or failover)
 *  client    SUB    <--KVPUB / HUGZ------ server P+1    (the current server only)
 *            XPUB   --KVSET-------------> server P+2    (every server, so a pair sees every write)
 * ```
 *
 * Reads (`get`, `entries`, `watch`) are local. Writes go to the server, which sequences them; the
 * replica changes when the server publishes the write back. `set()` is fire-and-forget, as the
 * book's `clone_set`; `commit()` waits for the server's sequence number.
 */
import type { Logger, ResolvedOptions, StartOptions } from '@zpatterns/core';
import {
  ClosedError,
  Component,
  deadline,
  invalidOption,
  resolveOptions,
  rules,
  throwIfAborted,
} from '@zpatterns/core';
import { applyConnectSecurity, Channel, componentLogger } from '@zpatterns/core/internal';
import * as zmq from 'zeromq';
import { serverAddress, type CloneServerAddress } from './address.js';
import { ChangeFeed } from './change-feed.js';
import type {
  CloneChange,
  CloneClientOptions,
  CloneClientStats,
  CloneClientStatus,
  CommitOptions,
  SetOptions,
  WatchOptions,
} from './client-options.js';
import { cloneClientDefaults, cloneClientRules } from './client-options.js';
import { PendingCommits } from './commits.js';
import { Follower, type FollowerEvent } from './follower.js';
import type { KvMsg } from './kvmsg.js';
import { encodeKvMsg, inSubtree, isReservedKey, newUuid, TTL_PROPERTY } from './kvmsg.js';

/** Writes a client may have queued toward one server before a PUB starts dropping them. */
const WRITE_HIGH_WATER_MARK = 100_000;

/**
 * The Clone client agent: a local replica of one or more subtrees, fed by a snapshot and then the
 * update stream, and writes published to every server's collector. `new CloneClient(options)`
 * validates and opens nothing; `await client.start()` connects and resolves once the client is
 * ready: the first snapshot is applied and the collector of the server it came from hears our
 * writes. `status()` reports `connected`, `disconnected`, `failover` and `resync`; a replica loop
 * that fails ends the client (`closed()` resolves with the `ReplicaError`).
 */
export class CloneClient extends Component<CloneClientStatus> {
  readonly #o: ResolvedOptions<CloneClientOptions, typeof cloneClientDefaults>;
  readonly #log: Logger;
  #map = new Map<string, KvMsg>();
  readonly #servers: CloneServerAddress[];
  readonly #follower: Follower;
  readonly #feed: ChangeFeed;
  readonly #commits = new PendingCommits();
  #publishers: Channel<zmq.XPublisher>[] = [];
  /** Per server: resolves when its collector's subscription has reached us. */
  #subscribed: Promise<void>[] = [];
  #sent = 0;

  constructor(options: CloneClientOptions) {
    super();
    this.#o = resolveOptions('CloneClient', options, cloneClientDefaults, cloneClientRules);
    this.#log = componentLogger(options.logger, { component: 'clone-client' });
    this.#servers = options.servers.map(serverAddress);
    this.#feed = new ChangeFeed(this.#o.maxWatchBacklog, this.#log);
    this.#follower = new Follower({
      sources: this.#servers,
      subtrees: this.#o.subtrees,
      serverTtlMs: this.#o.peerTtlMs,
      lingerMs: 0,
      security: this.#o.security,
      clock: this.#o.clock,
      logger: this.#log,
      onSnapshot: (entries, sequence) => this.#onSnapshot(entries, sequence),
      onUpdate: (msg) => this.#onUpdate(msg),
      onEvent: (event) => this.#onFollowerEvent(event),
    });
  }

  /** The highest sequence applied. */
  get sequence(): bigint {
    return this.#follower.sequence;
  }

  /** The server followed now (an index into `servers`). */
  get currentServer(): number {
    return this.#follower.current;
  }

  /** A snapshot of the counters; read it again for fresh figures. */
  get stats(): CloneClientStats {
    return {
      ...this.#follower.stats,
      sent: this.#sent,
      watchOverflows: this.#feed.overflows,
      commitsPending: this.#commits.size,
    };
  }

  /**
   * Start the client (see the class): with no server answering this waits, trying each server in
   * turn every `peerTtlMs`, until `timeoutMs` (`TimeoutError`) or `signal` (`AbortError`); in
   * both cases the client is closed. A replica loop that fails first rejects with `ReplicaError`.
   */
  override start(options: StartOptions = {}): Promise<void> {
    const timeoutMs = options.timeoutMs;
    if (timeoutMs !== undefined && !rules.positiveOrInfinity.test(timeoutMs)) {
      return Promise.reject(invalidOption('CloneClient.start', 'timeoutMs', rules.positiveOrInfinity.must, timeoutMs));
    }
    return super.start(options);
  }

  /** Open the publishers, start the replica loop and wait until ready (see the class). */
  protected override async onStart(signal: AbortSignal): Promise<void> {
    const startedAt = Date.now();
    this.#publishers = this.#servers.map((_, i) => this.#openPublisher(i));
    this.#subscribed = this.#publishers.map(
      (channel) =>
        new Promise<void>((resolve) => {
          void channel.start(() => resolve());
        }),
    );
    this.#servers.forEach((s, i) => this.#publishers[i]?.socket.connect(s.collector));
    void this.#follower.done.then((failure) => {
      if (failure !== undefined) void this.fail(failure);
    });
    // the start's timeoutMs aborts `signal` (core turns that into the TimeoutError)
    await deadline(this.#ready(startedAt), { signal });
  }

  /**
   * One XPUB per server rather than a PUB: each tells us when that collector's subscription has
   * arrived, so start() can wait for the one that matters and a set() right after it is not
   * dropped by the slow-joiner window. A PUB drops what exceeds its high-water mark, so that mark
   * is large (100,000 writes queued per server, not libzmq's 1,000): a burst of set() calls waits
   * in the pipe for a slow server instead of being lost. But nothing waits for a server that is
   * not connected (`immediate`): a copy queued while it was down would reach it after its restart,
   * after the snapshot that already holds newer values, and a passive would replay it on failover.
   */
  #openPublisher(index: number): Channel<zmq.XPublisher> {
    const pub = new zmq.XPublisher({
      linger: this.#o.lingerMs,
      verbosity: 'allSubs',
      sendHighWaterMark: WRITE_HIGH_WATER_MARK,
      immediate: true,
    });
    applyConnectSecurity(pub, this.#o.security);
    return new Channel(pub, { name: `publisher-${index}`, logger: this.#log });
  }

  /**
   * The first snapshot, then the collector of the server it came from (a write must reach the
   * server that sequences it), then every other collector, each for what is left of `peerTtlMs`
   * since start() began (a dead server is not waited for: the one that answered matters).
   */
  async #ready(startedAt: number): Promise<void> {
    await this.#follower.start();
    if (this.closeSignal.aborted) return;
    const followed = this.#follower.current;
    await this.#subscribed[followed];
    const left = this.#o.peerTtlMs - (Date.now() - startedAt);
    const others = this.#subscribed.filter((_, i) => i !== followed);
    if (others.length === 0 || left <= 0) return;
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<void>((resolve) => (timer = setTimeout(resolve, left)));
    try {
      await Promise.race([Promise.all(others), limit]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The value of `key` in the local replica, or `undefined` when absent or deleted. Never waits. */
  get(key: string): Buffer | undefined {
    return this.#map.get(key)?.body;
  }

  /** The replica: every key and value held, in no particular order. */
  entries(): [string, Buffer][] {
    return [...this.#map].map(([k, v]) => [k, v.body]);
  }

  /** How many keys the replica holds. */
  get size(): number {
    return this.#map.size;
  }

  /**
   * Publish a KVSET (an empty value deletes). `ttlMs` is sent as whole seconds, rounded up; the
   * server deletes the key when it expires. Fire-and-forget: the replica changes when the server
   * publishes the update back. It never waits, so it throws rather than rejects:
   * `NotStartedError` before `start()` has resolved, `ClosedError` after `close()`,
   * `InvalidArgumentError` for an empty or reserved key.
   */
  set(key: string, value: Buffer | string, options: SetOptions = {}): void {
    this.#send(key, value, options, newUuid());
  }

  /** Delete a key (a KVSET with an empty value). */
  delete(key: string): void {
    this.set(key, Buffer.alloc(0));
  }

  /**
   * Publish a KVSET and resolve with the sequence the server gave it, once it is back in the
   * replica. The key must lie in a followed subtree. Rejects with `TimeoutError` after
   * `timeoutMs` (default: the client's `timeoutMs`), with `AbortError` when `signal` fires, with
   * `ClosedError` when the client closes; in those cases the update may still be applied later.
   */
  async commit(key: string, value: Buffer | string, options: CommitOptions = {}): Promise<bigint> {
    this.#check(key);
    if (!this.#o.subtrees.some((s) => inSubtree(key, s))) {
      throw invalidOption('CloneClient.commit', 'key', `in a followed subtree (${this.#o.subtrees.join(', ')})`, key);
    }
    throwIfAborted(options.signal);
    const budget = this.#commits.budget(key, {
      timeoutMs: options.timeoutMs ?? this.#o.timeoutMs,
      signal: options.signal,
    });
    const uuid = newUuid();
    this.#send(key, value, options, uuid); // its echo cannot arrive before the wait below is set
    return this.#commits.wait(uuid, budget);
  }

  /** Throws unless a write of `key` may be sent now. */
  #check(key: string): void {
    this.assertRunning();
    if (key.length === 0 || isReservedKey(key)) {
      throw invalidOption('CloneClient', 'key', 'a non-empty string other than HUGZ, KTHXBAI and ICANHAZ?', key);
    }
  }

  #send(key: string, value: Buffer | string, options: SetOptions, uuid: Buffer): void {
    this.#check(key);
    const props = new Map<string, string>();
    const ttl = options.ttlMs;
    if (ttl !== undefined && ttl > 0) props.set(TTL_PROPERTY, String(Math.ceil(ttl / 1000)));
    const frames = encodeKvMsg({ key, sequence: 0n, uuid, properties: props, body: Buffer.from(value) });
    for (const publisher of this.#publishers) publisher.post(frames);
    this.#sent += 1;
  }

  /**
   * Changes under `prefix` from now on, in sequence order. After a resync (a gap, a failover) the
   * differences the new snapshot brought are yielded too, so a watcher always converges on the
   * replica. A consumer more than `maxWatchBacklog` changes behind gets a `WatchOverflowError`.
   * It may be taken before `start()` (to see the first snapshot's keys arrive) and never times
   * out. `break` ends it quietly and unsubscribes; `signal` firing makes `next()` reject with
   * `AbortError`; closing the client ends it quietly.
   */
  watch(prefix = '', options: WatchOptions = {}): AsyncGenerator<CloneChange> {
    return this.#feed.watch(prefix, this.closeSignal, options.signal);
  }

  #onSnapshot(entries: KvMsg[], sequence: bigint): void {
    const before = this.#map;
    this.#map = new Map(entries.map((e) => [e.key, e] as const));
    this.#feed.replaced(before, this.#map, sequence);
    // A write can come back inside a snapshot rather than as an update (a failover: the new active
    // publishes what it held just before answering the vote that made it active).
    for (const e of entries) this.#commits.settle(e);
    this.#log.debug({ sequence, size: this.#map.size }, 'snapshot applied');
  }

  #onUpdate(msg: KvMsg): void {
    if (msg.body.length === 0) this.#map.delete(msg.key);
    else this.#map.set(msg.key, msg);
    if (this.#feed.watched) {
      this.#feed.push({ key: msg.key, value: msg.body.length === 0 ? undefined : msg.body, sequence: msg.sequence });
    }
    this.#commits.settle(msg);
  }

  #onFollowerEvent(event: FollowerEvent): void {
    const name = (index: number): string => this.#servers[index]?.snapshot ?? String(index);
    switch (event.type) {
      case 'connected':
        this.emit({ type: 'connected', peer: name(event.server) });
        return;
      case 'server-dead':
        this.emit({ type: 'disconnected', peer: name(event.server), reason: 'silent', silentMs: event.silentMs });
        return;
      case 'failover':
        this.emit({ type: 'failover', from: name(event.from), to: name(event.to) });
        return;
      case 'resync':
        // a HUGZ ahead of the replica: updates the server published never arrived
        this.emit({
          type: 'resync',
          peer: name(event.server),
          reason: event.reason === 'hugz' ? 'behind' : event.reason,
        });
        return;
    }
  }

  /**
   * Stop following (from `close()`): pending `commit()` calls reject with `ClosedError`, open
   * `watch()` iterators finish, and the sockets close.
   */
  protected override async onClose(): Promise<void> {
    this.#commits.rejectAll(new ClosedError('CloneClient'));
    this.#feed.wakeAll();
    await Promise.all([this.#follower.close(), ...this.#publishers.map((p) => p.close())]);
  }
}
