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
import type { Clock, Logger, SecurityOptions, StartOptions, ServerDeadStatus } from '@zpatterns/core';
import {
  InvalidArgumentError,
  AbortError,
  applyConnectSecurity,
  Channel,
  ClosedError,
  Component,
  componentLogger,
  deadline,
  definedOnly,
  throwIfAborted,
  TimeoutError,
} from '@zpatterns/core';
import { WatchOverflowError } from './errors.js';
import * as zmq from 'zeromq';
import type { ResyncReason } from './cursor.js';
import { Follower, type FollowerEvent } from './follower.js';
import type { KvMsg } from './kvmsg.js';
import { encodeKvMsg, inSubtree, isReservedKey, newUuid, TTL_PROPERTY } from './kvmsg.js';

/** The three endpoints of one Clone server; `serverAddress()` derives them from `tcp://HOST:P`. */
export interface CloneServerAddress {
  /** The server's snapshot ROUTER (port P): where a client asks for the current map. */
  snapshot: string;
  /** The server's update PUB (port P+1): where a client hears every update and HUGZ. */
  publisher: string;
  /** The server's collector SUB (port P+2): where a client publishes its writes. */
  collector: string;
}

/** Options of `new CloneClient(options)`; `cloneClientDefaults` holds the defaults. */
export interface CloneClientOptions {
  /**
   * One server, or the two of a pair, in failover order. A string `tcp://HOST:P` stands for the
   * book's layout: snapshot P, updates P+1, collector P+2.
   */
  servers: readonly (string | CloneServerAddress)[];
  /** Subtrees to follow (key prefixes such as `/config/`). @default [''] (everything) */
  subtrees?: readonly string[];
  /** A server silent this long (no update, no HUGZ) is presumed dead. @default 5000 (SERVER_TTL) */
  serverTtlMs?: number;
  /** How long close() lets unsent updates go out. @default 200 */
  lingerMs?: number;
  /** How long `commit()` waits for the server's sequence. @default 10000 */
  commitTimeoutMs?: number;
  /** Changes a `watch()` consumer may fall behind by before its iterator fails. @default 10000 */
  maxWatchBacklog?: number;
  /** CURVE: connect to CURVE servers. @default plain */
  security?: SecurityOptions | undefined;
  /** Time source of the server-silence and back-off timers (a `ManualClock` in tests). @default systemClock */
  clock?: Clock | undefined;
  /** Parent logger. @default silent */
  logger?: Logger;
}

/** The defaults of `CloneClientOptions`. */
export const cloneClientDefaults = {
  subtrees: [''] as readonly string[],
  serverTtlMs: 5000,
  lingerMs: 200,
  commitTimeoutMs: 10_000,
  maxWatchBacklog: 10_000,
} as const;

/** Writes a client may have queued toward one server before a PUB starts dropping them. */
export const WRITE_HIGH_WATER_MARK = 100_000;

/** A change seen by `watch()`: `value` undefined means deleted. */
export interface CloneChange {
  /** The key that changed. */
  key: string;
  /** Its new value; `undefined` when the key was deleted (or expired). */
  value: Buffer | undefined;
  /** The update's sequence; for changes found by a new snapshot, the snapshot's. */
  sequence: bigint;
}

/**
 * What `client.status()` yields besides `started` and `closed`; `server` is the server's snapshot
 * endpoint (`tcp://HOST:P` for a server given as a string). `server-dead`: the server followed
 * was silent for `serverTtlMs` (no update, no HUGZ, no snapshot reply).
 */
export type CloneClientStatus =
  | {
      /** A snapshot from `server` is applied and the client follows it (at start and after each failover). */
      readonly type: 'connected';
      /** The server now followed. */
      readonly server: string;
    }
  | ServerDeadStatus
  | {
      /** The client moved to the next server of the list after `from` went silent. */
      readonly type: 'failover';
      /** The server given up on. */
      readonly from: string;
      /** The server asked for a snapshot next. */
      readonly to: string;
    }
  | {
      /** The replica takes a new snapshot from the server it follows. */
      readonly type: 'resync';
      /** The server the snapshot is taken from. */
      readonly server: string;
      /**
       * `gap`: an update was missed; `hugz`: a HUGZ shows the server ahead (the last updates were
       * missed); `restart`: a HUGZ shows the server behind (it restarted without its data).
       */
      readonly reason: ResyncReason;
    };

/** Options of `CloneClient.start()`. */
export interface CloneStartOptions extends StartOptions {
  /**
   * Reject with `TimeoutError` (and close the client) when no server has answered within this
   * long. @default unbounded (the client keeps trying each server in turn)
   */
  timeoutMs?: number | undefined;
}

/** Options of `CloneClient.watch()`. */
export interface WatchOptions {
  /** End the iteration (quietly, as a `break` would) when this fires. */
  signal?: AbortSignal | undefined;
}

/** Counters of one `CloneClient`, from its start. */
export interface CloneClientStats {
  /** Complete snapshots received (the first one and every resync). */
  snapshots: number;
  /** Updates applied to the replica, in sequence order. */
  updates: number;
  /** Updates dropped because the replica already held that sequence or a later one. */
  stale: number;
  /** Sequence gaps seen (a missed update): each leads to a resync from a fresh snapshot. */
  gaps: number;
  /** Moves to the other server of a pair after the current one was silent for `serverTtlMs`. */
  failovers: number;
  /** Snapshot requests that got no complete answer within `serverTtlMs`. */
  snapshotTimeouts: number;
  /** Malformed messages from a server, dropped and logged. */
  badMessages: number;
  /** Updates published to the servers. */
  sent: number;
  /** Watchers ended because they fell more than `maxWatchBacklog` changes behind. */
  watchOverflows: number;
  /** `commit()` calls waiting for their sequence now. */
  commitsPending: number;
}

/** Options of `CloneClient.commit()`. */
export interface CommitOptions {
  /** Time to live of the key, rounded up to whole seconds on the wire; none when omitted. */
  ttlMs?: number | undefined;
  /** Reject with `TimeoutError` after this long. @default the client's `commitTimeoutMs` */
  timeoutMs?: number | undefined;
  /** Reject with `AbortError` (its `cause` the signal's reason) when this fires. */
  signal?: AbortSignal | undefined;
}

/** Parse `tcp://HOST:P` into the three endpoints of the book's port layout. */
export function serverAddress(server: string | CloneServerAddress): CloneServerAddress {
  if (typeof server !== 'string') return server;
  const match = /^(tcp:\/\/.+):(\d+)$/.exec(server);
  const port = match === null ? Number.NaN : Number(match[2]);
  if (match === null || !Number.isInteger(port) || port < 1 || port > 65533) {
    throw new InvalidArgumentError(`clone server must look like tcp://HOST:PORT, got ${JSON.stringify(server)}`);
  }
  const host = match[1] ?? '';
  return { snapshot: `${host}:${port}`, publisher: `${host}:${port + 1}`, collector: `${host}:${port + 2}` };
}

interface Watcher {
  prefix: string;
  queue: CloneChange[];
  failed: WatchOverflowError | undefined;
  wake: (() => void) | undefined;
}

/** What `set()` takes besides the key and value. */
export interface SetOptions {
  /** Time to live of the key, rounded up to whole seconds on the wire; none when omitted. */
  ttlMs?: number | undefined;
}

interface PendingCommit {
  resolve: (sequence: bigint) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * The Clone client agent: a local replica of one or more subtrees, fed by a snapshot and then the
 * update stream, and writes published to every server's collector. `new CloneClient(options)`
 * validates and opens nothing; `await client.start()` connects and resolves once the client is
 * ready: the first snapshot is applied and the collector of the server it came from hears our
 * writes. `status()` reports `connected`, `server-dead`, `failover` and `resync`; a replica loop
 * that fails ends the client (`closed()` resolves with the `ReplicaError`).
 */
export class CloneClient extends Component<CloneClientStatus> {
  readonly #o: Required<Omit<CloneClientOptions, 'logger' | 'security' | 'servers' | 'clock'>>;
  readonly #security: SecurityOptions | undefined;
  readonly #log: Logger;
  readonly #map = new Map<string, KvMsg>();
  readonly #servers: CloneServerAddress[];
  readonly #follower: Follower;
  #publishers: Channel<zmq.XPublisher>[] = [];
  readonly #watchers = new Set<Watcher>();
  readonly #commits = new Map<string, PendingCommit>();
  /** Per server: resolves when its collector's subscription has reached us. */
  #subscribed: Promise<void>[] = [];
  #startTimeoutMs: number | undefined;
  readonly #extra = { sent: 0, watchOverflows: 0 };

  constructor(options: CloneClientOptions) {
    super();
    this.#o = { ...cloneClientDefaults, ...definedOnly(options) };
    this.#security = options.security;
    this.#log = componentLogger(options.logger, { component: 'clone-client' });
    this.#servers = options.servers.map(serverAddress);
    if (this.#servers.length === 0) throw new InvalidArgumentError('clone client: at least one server is needed');
    if (this.#o.subtrees.length === 0) throw new InvalidArgumentError('clone client: subtrees must not be empty');
    for (const name of ['serverTtlMs', 'commitTimeoutMs', 'maxWatchBacklog'] as const) {
      if (!(this.#o[name] > 0))
        throw new InvalidArgumentError(`clone client: ${name} must be > 0, got ${this.#o[name]}`);
    }
    if (!(this.#o.lingerMs >= 0)) throw new InvalidArgumentError(`clone client: lingerMs must be >= 0`);
    this.#follower = new Follower({
      sources: this.#servers,
      subtrees: this.#o.subtrees,
      serverTtlMs: this.#o.serverTtlMs,
      lingerMs: 0,
      security: options.security,
      clock: options.clock,
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
    return { ...this.#follower.stats, ...this.#extra, commitsPending: this.#commits.size };
  }

  /**
   * Start the client (see the class): with no server answering this waits, trying each server in
   * turn every `serverTtlMs`, until `timeoutMs` (`TimeoutError`) or `signal` (`AbortError`); in
   * both cases the client is closed. A replica loop that fails first rejects with `ReplicaError`.
   */
  override start(options: CloneStartOptions = {}): Promise<void> {
    const timeoutMs = options.timeoutMs;
    if (timeoutMs !== undefined && !(timeoutMs > 0)) {
      return Promise.reject(new InvalidArgumentError(`clone client start: timeoutMs must be > 0, got ${timeoutMs}`));
    }
    if (this.lifecycle === 'new') this.#startTimeoutMs = timeoutMs;
    return super.start({ signal: options.signal });
  }

  /** Open the publishers, start the replica loop and wait until ready (see the class). */
  protected override async onStart(signal: AbortSignal): Promise<void> {
    const startedAt = Date.now();
    // One XPUB per server rather than a PUB: each tells us when that collector's subscription has
    // arrived, so start() can wait for the one that matters and a set() right after it is not
    // dropped by the slow-joiner window. A PUB drops what exceeds its high-water mark, so that mark
    // is large (100,000 writes queued per server, not libzmq's 1,000): a burst of set() calls waits
    // in the pipe for a slow server instead of being lost. But nothing waits for a server that is
    // not connected (`immediate`): a copy queued while it was down would reach it after its restart,
    // after the snapshot that already holds newer values, and a passive would replay it on failover.
    this.#publishers = this.#servers.map((_, i) => {
      const pub = new zmq.XPublisher({
        linger: this.#o.lingerMs,
        verbosity: 'allSubs',
        sendHighWaterMark: WRITE_HIGH_WATER_MARK,
        immediate: true,
      });
      applyConnectSecurity(pub, this.#security);
      return new Channel(pub, { name: `publisher-${i}`, logger: this.#log });
    });
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
    const timeoutMs = this.#startTimeoutMs;
    const servers = this.#servers.map((s) => s.snapshot).join(', ');
    await deadline(this.#ready(startedAt), {
      signal,
      timeoutMs,
      timeoutMessage: `clone client: no snapshot from ${servers} within timeoutMs=${timeoutMs} ms`,
    });
  }

  /**
   * The first snapshot, then the collector of the server it came from (a write must reach the
   * server that sequences it), then every other collector, each for what is left of `serverTtlMs`
   * since start() began (a dead server is not waited for: the one that answered matters).
   */
  async #ready(startedAt: number): Promise<void> {
    await this.#follower.start();
    if (this.closeSignal.aborted) return;
    const followed = this.#follower.current;
    await this.#subscribed[followed];
    const left = this.#o.serverTtlMs - (Date.now() - startedAt);
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
   * `timeoutMs` (default `commitTimeoutMs`), with `AbortError` when `signal` fires, with
   * `ClosedError` when the client closes; in those cases the update may still be applied later.
   */
  async commit(key: string, value: Buffer | string, options: CommitOptions = {}): Promise<bigint> {
    const signal = options.signal;
    this.#check(key);
    if (!this.#o.subtrees.some((s) => inSubtree(key, s))) {
      throw new InvalidArgumentError(`clone commit: ${key} is outside the followed subtrees`);
    }
    if (options.timeoutMs !== undefined && !(options.timeoutMs > 0)) {
      throw new InvalidArgumentError(`clone commit: timeoutMs must be > 0, got ${options.timeoutMs}`);
    }
    throwIfAborted(signal);
    const timeoutMs = options.timeoutMs ?? this.#o.commitTimeoutMs;
    const optionName = options.timeoutMs === undefined ? 'commitTimeoutMs' : 'timeoutMs';
    const uuid = newUuid();
    return new Promise<bigint>((resolve, reject) => {
      const id = uuid.toString('hex');
      const onAbort = (): void => {
        const pending = this.#commits.get(id);
        if (pending === undefined) return;
        this.#commits.delete(id);
        clearTimeout(pending.timer);
        reject(new AbortError(`clone commit of ${key} aborted`, { cause: signal?.reason }));
      };
      const done = (): void => signal?.removeEventListener('abort', onAbort);
      const timer = setTimeout(() => {
        this.#commits.delete(id);
        done();
        reject(new TimeoutError(`clone commit of ${key}: no sequence within ${optionName}=${timeoutMs} ms`));
      }, timeoutMs);
      this.#commits.set(id, {
        resolve: (sequence) => {
          done();
          resolve(sequence);
        },
        reject: (err) => {
          done();
          reject(err);
        },
        timer,
      });
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#send(key, value, options, uuid);
    });
  }

  /** Throws unless a write of `key` may be sent now. */
  #check(key: string): void {
    this.assertRunning();
    if (key.length === 0) throw new InvalidArgumentError('clone: the key must not be empty');
    if (isReservedKey(key)) throw new InvalidArgumentError(`clone: ${key} is a protocol command, not a key`);
  }

  #send(key: string, value: Buffer | string, options: { ttlMs?: number | undefined }, uuid: Buffer): void {
    this.#check(key);
    const props = new Map<string, string>();
    const ttl = options.ttlMs;
    if (ttl !== undefined && ttl > 0) props.set(TTL_PROPERTY, String(Math.ceil(ttl / 1000)));
    const frames = encodeKvMsg({ key, sequence: 0n, uuid, properties: props, body: Buffer.from(value) });
    for (const publisher of this.#publishers) publisher.post(frames);
    this.#extra.sent += 1;
  }

  /**
   * Changes under `prefix` from now on, in sequence order. After a resync (a gap, a failover) the
   * differences the new snapshot brought are yielded too, so a watcher always converges on the
   * replica. A consumer more than `maxWatchBacklog` changes behind gets a `WatchOverflowError`.
   * It may be taken before `start()` (to see the first snapshot's keys arrive); it ends when the
   * client closes or `signal` fires, and never times out.
   */
  async *watch(prefix = '', options: WatchOptions = {}): AsyncGenerator<CloneChange> {
    const w: Watcher = { prefix, queue: [], failed: undefined, wake: undefined };
    const onAbort = (): void => w.wake?.();
    const closing = this.closeSignal;
    options.signal?.addEventListener('abort', onAbort);
    closing.addEventListener('abort', onAbort);
    this.#watchers.add(w);
    try {
      while (!closing.aborted && options.signal?.aborted !== true) {
        const next = w.queue.shift();
        if (next !== undefined) {
          yield next;
          continue;
        }
        if (w.failed !== undefined) throw w.failed;
        await new Promise<void>((r) => (w.wake = r));
        w.wake = undefined;
      }
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
      closing.removeEventListener('abort', onAbort);
      this.#watchers.delete(w);
    }
  }

  #emit(change: CloneChange): void {
    for (const w of this.#watchers) {
      if (w.failed !== undefined || !inSubtree(change.key, w.prefix)) continue;
      if (w.queue.length >= this.#o.maxWatchBacklog) {
        w.failed = new WatchOverflowError(w.queue.length);
        w.queue.length = 0;
        this.#extra.watchOverflows += 1;
        this.#log.warn({ prefix: w.prefix, backlog: this.#o.maxWatchBacklog }, 'watcher too slow, ended');
      } else {
        w.queue.push(change);
      }
      w.wake?.();
    }
  }

  #onSnapshot(entries: KvMsg[], sequence: bigint): void {
    const before = this.#map;
    const after = new Map(entries.map((e) => [e.key, e] as const));
    if (this.#watchers.size > 0) {
      for (const [key, old] of before) {
        if (!after.has(key)) this.#emit({ key, value: undefined, sequence });
        else if (!old.body.equals(after.get(key)?.body ?? Buffer.alloc(0))) {
          this.#emit({ key, value: after.get(key)?.body, sequence });
        }
      }
      for (const [key, e] of after) if (!before.has(key)) this.#emit({ key, value: e.body, sequence });
    }
    before.clear();
    for (const [k, v] of after) before.set(k, v);
    // A write can come back inside a snapshot rather than as an update (a failover: the new active
    // publishes what it held just before answering the vote that made it active).
    if (this.#commits.size > 0) for (const e of entries) this.#settleCommit(e);
    this.#log.debug({ sequence, size: after.size }, 'snapshot applied');
  }

  #onUpdate(msg: KvMsg): void {
    if (msg.body.length === 0) this.#map.delete(msg.key);
    else this.#map.set(msg.key, msg);
    this.#emit({ key: msg.key, value: msg.body.length === 0 ? undefined : msg.body, sequence: msg.sequence });
    if (this.#commits.size > 0) this.#settleCommit(msg);
  }

  #settleCommit(msg: KvMsg): void {
    if (msg.uuid.length === 0) return;
    const id = msg.uuid.toString('hex');
    const pending = this.#commits.get(id);
    if (pending === undefined) return;
    this.#commits.delete(id);
    clearTimeout(pending.timer);
    pending.resolve(msg.sequence);
  }

  #onFollowerEvent(event: FollowerEvent): void {
    const name = (index: number): string => this.#servers[index]?.snapshot ?? String(index);
    switch (event.type) {
      case 'connected':
        this.emit({ type: 'connected', server: name(event.server) });
        return;
      case 'server-dead':
        this.emit({ type: 'server-dead', server: name(event.server), silentMs: event.silentMs });
        return;
      case 'failover':
        this.emit({ type: 'failover', from: name(event.from), to: name(event.to) });
        return;
      case 'resync':
        this.emit({ type: 'resync', server: name(event.server), reason: event.reason });
        return;
    }
  }

  /**
   * Stop following (from `close()`): pending `commit()` calls reject with `ClosedError`, open
   * `watch()` iterators finish, and the sockets close.
   */
  protected override async onClose(): Promise<void> {
    for (const [, p] of this.#commits) {
      clearTimeout(p.timer);
      p.reject(new ClosedError('CloneClient'));
    }
    this.#commits.clear();
    for (const w of this.#watchers) w.wake?.();
    await Promise.all([this.#follower.close(), ...this.#publishers.map((p) => p.close())]);
  }
}
