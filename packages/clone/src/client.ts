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
import type { Logger, SecurityOptions } from '@zpatterns/core';
import {
  InvalidArgumentError,
  AbortError,
  applyConnectSecurity,
  Channel,
  ClosedError,
  componentLogger,
  definedOnly,
  throwIfAborted,
  TimeoutError,
  toError,
} from '@zpatterns/core';
import { NotStartedError, ReplicaError, WatchOverflowError } from './errors.js';
import * as zmq from 'zeromq';
import { Follower } from './follower.js';
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
  /** Parent logger. @default silent */
  logger?: Logger;
}

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
  key: string;
  value: Buffer | undefined;
  /** The update's sequence; for changes found by a new snapshot, the snapshot's. */
  sequence: bigint;
}

/** Counters of one `CloneClient`, from its start; `client.stats` returns a fresh copy on each read. */
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

interface PendingCommit {
  resolve: (sequence: bigint) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export class CloneClient implements AsyncDisposable {
  readonly #o: Required<Omit<CloneClientOptions, 'logger' | 'security' | 'servers'>>;
  readonly #log: Logger;
  readonly #map = new Map<string, KvMsg>();
  readonly #servers: CloneServerAddress[];
  readonly #follower: Follower;
  readonly #publishers: Channel<zmq.XPublisher>[];
  readonly #watchers = new Set<Watcher>();
  readonly #commits = new Map<string, PendingCommit>();
  /** Per server: resolves when its collector's subscription has reached us. */
  readonly #subscribed: Promise<void>[];
  #closed = false;
  #closing: Promise<void> | undefined;
  #started = false;
  #connected = false;
  readonly #extra = { sent: 0, watchOverflows: 0 };

  constructor(options: CloneClientOptions) {
    this.#o = { ...cloneClientDefaults, ...definedOnly(options) };
    this.#log = componentLogger(options.logger, { component: 'clone-client' });
    this.#servers = options.servers.map(serverAddress);
    if (this.#servers.length === 0) throw new InvalidArgumentError('clone client: at least one server is needed');
    if (this.#o.subtrees.length === 0) throw new InvalidArgumentError('clone client: subtrees must not be empty');
    this.#follower = new Follower({
      sources: this.#servers,
      subtrees: this.#o.subtrees,
      serverTtlMs: this.#o.serverTtlMs,
      lingerMs: 0,
      security: options.security,
      logger: this.#log,
      onSnapshot: (entries, sequence) => this.#onSnapshot(entries, sequence),
      onUpdate: (msg) => this.#onUpdate(msg),
    });
    // One XPUB per server rather than a PUB: each tells us when that collector's subscription has
    // arrived, so start() can wait for the one that matters and a set() right after it is not
    // dropped by the slow-joiner window. A PUB drops what exceeds its high-water mark, so that mark
    // is large (100,000 writes queued per server, not libzmq's 1,000): a burst of set() calls waits
    // in the pipe for a slow server instead of being lost.
    this.#publishers = this.#servers.map((_, i) => {
      const pub = new zmq.XPublisher({
        linger: this.#o.lingerMs,
        verbosity: 'allSubs',
        sendHighWaterMark: WRITE_HIGH_WATER_MARK,
      });
      applyConnectSecurity(pub, options.security);
      return new Channel(pub, { name: `publisher-${i}`, logger: this.#log });
    });
    this.#subscribed = this.#publishers.map(
      (channel) =>
        new Promise<void>((resolve) => {
          void channel.start(() => resolve());
        }),
    );
  }

  /** The highest sequence applied. */
  get sequence(): bigint {
    return this.#follower.sequence;
  }

  /** The server followed now (an index into `servers`). */
  get currentServer(): number {
    return this.#follower.current;
  }

  /**
   * Resolves when the client stops following: `undefined` after close(), a `ReplicaError` when the
   * replica loop failed (the replica then stays as it was; close the client and make a new one).
   */
  async closed(): Promise<ReplicaError | undefined> {
    const failure = await this.#follower.done;
    return failure instanceof ReplicaError ? failure : undefined;
  }

  get stats(): CloneClientStats {
    return { ...this.#follower.stats, ...this.#extra, commitsPending: this.#commits.size };
  }

  /**
   * Connect, take the first snapshot and wait until a server's collector hears our updates. With
   * no server answering this waits (retrying each server every `serverTtlMs`) until `signal`
   * aborts; the client keeps trying in the background after an abort, until closed.
   */
  async start(options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.#closed) throw new ClosedError('clone client');
    const startedAt = Date.now();
    if (!this.#connected) {
      this.#connected = true;
      this.#servers.forEach((s, i) => this.#publishers[i]?.socket.connect(s.collector));
    }
    this.#started = true;
    const ready = this.#ready(startedAt);
    const signal = options.signal;
    if (signal === undefined) return ready;
    signal.throwIfAborted();
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(new AbortError('clone client start', { cause: signal.reason }));
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      await Promise.race([ready, aborted]);
    } finally {
      if (onAbort !== undefined) signal.removeEventListener('abort', onAbort);
    }
  }

  /**
   * The first snapshot, then the collector of the server it came from (a write must reach the
   * server that sequences it), then every other collector, each for what is left of `serverTtlMs`
   * since start() began (a dead server is not waited for: the one that answered matters).
   */
  async #ready(startedAt: number): Promise<void> {
    await this.#follower.start();
    if (this.#closed) return;
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

  get size(): number {
    return this.#map.size;
  }

  /**
   * Publish a KVSET (an empty value deletes). `ttlMs` is sent as whole seconds, rounded up; the
   * server deletes the key when it expires. Fire-and-forget: the replica changes when the server
   * publishes the update back.
   */
  set(key: string, value: Buffer | string, options: { ttlMs?: number } = {}): void {
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
  commit(key: string, value: Buffer | string, options: CommitOptions = {}): Promise<bigint> {
    const signal = options.signal;
    try {
      this.#check(key);
      if (!this.#o.subtrees.some((s) => inSubtree(key, s))) {
        throw new InvalidArgumentError(`clone commit: ${key} is outside the followed subtrees`);
      }
      const timeoutMs = options.timeoutMs;
      if (timeoutMs !== undefined && !(timeoutMs > 0)) {
        throw new InvalidArgumentError(`clone commit: timeoutMs must be > 0, got ${timeoutMs}`);
      }
      throwIfAborted(signal);
    } catch (err) {
      return Promise.reject(toError(err));
    }
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
    if (this.#closed) throw new ClosedError('clone client');
    if (!this.#started) throw new NotStartedError('a write');
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
   */
  async *watch(prefix = '', options: { signal?: AbortSignal } = {}): AsyncGenerator<CloneChange> {
    const w: Watcher = { prefix, queue: [], failed: undefined, wake: undefined };
    const onAbort = (): void => w.wake?.();
    options.signal?.addEventListener('abort', onAbort);
    this.#watchers.add(w);
    try {
      while (!this.#closed && options.signal?.aborted !== true) {
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

  /**
   * Stop following: pending `commit()` calls reject with `ClosedError`, open `watch()` iterators
   * finish, and the sockets close. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    for (const [, p] of this.#commits) {
      clearTimeout(p.timer);
      p.reject(new ClosedError('clone client'));
    }
    this.#commits.clear();
    for (const w of this.#watchers) w.wake?.();
    await Promise.all([this.#follower.close(), ...this.#publishers.map((p) => p.close())]);
  }

  /** Same as `close()`, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
