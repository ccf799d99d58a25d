/**
 * CloneServer: a 12/CHP server, alone or as one of a Binary Star pair (the book's model six).
 *
 * ```
 *  client DEALER --ICANHAZ?--> ROUTER (P)   --KVSYNC*, KTHXBAI--> client   (a pair: each request is a vote)
 *  client PUB    --KVSET-----> SUB    (P+2) --sequence, journal--> PUB (P+1) --KVPUB, HUGZ--> client SUB
 *
 *  pair:  active  --KVPUB--> passive's SUB (peer P+1)   passive: pending list of client KVSETs by UUID,
 *         active  <--ICANHAZ?-- passive (peer P)        cleared as the active's KVPUBs arrive
 * ```
 *
 * What differs from the book's clonesrv6, on purpose:
 * - only the active expires TTL keys (the book's passive expires its peer's relative TTLs at once);
 * - the pending list is replayed on failover only for client updates the active never published
 *   (the book also replays copies of the active's own updates);
 * - the passive follows its peer with gap detection and takes a new snapshot on a gap;
 * - only the active sends HUGZ, so a client left on a server that went passive moves on;
 * - with `dataDir`, updates are committed to SQLite before they are published.
 */
import { createHash } from 'node:crypto';
import type {
  CurveKeyPair,
  Logger,
  Message,
  SecurityOptions,
  ServerSecurity,
  ZapRequest,
  ServerDeadStatus,
} from '@zpatterns/core';
import {
  applyBindSecurity,
  applyConnectSecurity,
  applyPeerLimits,
  Channel,
  Component,
  definedOnly,
  InvalidArgumentError,
  resolveCurveKeys,
  componentLogger,
  hex,
  ProtocolError,
  systemClock,
  throwIfAborted,
  toError,
  WarningLimiter,
} from '@zpatterns/core';
import type { Clock, TimerHandle } from '@zpatterns/core';
import { BinaryStar, type BStarRole } from '@zpatterns/bstar';
import * as zmq from 'zeromq';
import { serverAddress, type CloneServerAddress } from './client.js';
import type { ResyncReason } from './cursor.js';
import { Follower, type FollowerEvent } from './follower.js';
import { CloneJournal } from './journal.js';
import { MapJournal } from './map-journal.js';
import type { KvMsg } from './kvmsg.js';
import { decodeIcanhaz, decodeKvMsg, encodeHugz, encodeKthxbai, encodeKvMsg, HUGZ, isReservedKey } from './kvmsg.js';
import { OVER_LIMIT, watchPeerLink } from './peer-link.js';
import {
  decodeSplitBrainQuery,
  handOver,
  keepDivergent,
  SplitBrainArbiter,
  type SplitBrainOutcome,
} from './split-brain.js';
import { KvStore } from './store.js';

/** The Binary Star side of a pair. */
export interface ClonePairOptions {
  /** `primary` or `backup`: which side of the pair this server is. */
  role: BStarRole;
  /** Our Binary Star state PUB (the book's 5003 / 5004). */
  stateBind: string;
  /** The peer's state PUB. */
  stateConnect: string;
  /**
   * The peer's Clone port P as `tcp://HOST:P`, or its snapshot and publisher endpoints (and its
   * collector, where a server that loses a split brain hands its divergent updates; and `hugz`,
   * where its HUGZ are heard, the publisher unless given: the sequence they last showed is logged
   * beside a split brain's outcome; the decision itself is made on the numbers both exchange).
   */
  peer: string | (Omit<CloneServerAddress, 'collector'> & { collector?: string; hugz?: string });
  /** Binary Star heartbeat; the peer is dead after two. @default 1000 */
  heartbeatMs?: number;
}

/** Options of `new CloneServer(options)`; `cloneServerDefaults` holds the defaults. */
export interface CloneServerOptions {
  /** Snapshot ROUTER endpoint (port P). @default `tcp://127.0.0.1:*` */
  snapshotEndpoint?: string;
  /** Update PUB endpoint (P+1). @default `tcp://127.0.0.1:*` */
  publisherEndpoint?: string;
  /** Collector SUB endpoint (P+2). @default `tcp://127.0.0.1:*` */
  collectorEndpoint?: string;
  /** HUGZ interval. @default 1000 */
  hugzIntervalMs?: number;
  /** TTL flush interval. @default 1000 */
  flushIntervalMs?: number;
  /** Run as one of a Binary Star pair. @default alone */
  pair?: ClonePairOptions | undefined;
  /** Keep the map in SQLite here, so a restart keeps it and its sequence. @default memory only */
  dataDir?: string | undefined;
  /** Fsync every commit (`synchronous = FULL`); else WAL with NORMAL. @default false */
  fsync?: boolean;
  /**
   * Passive server: client updates held while not yet seen from the active. Past this, new ones
   * are refused (counted in `pendingRefused`). @default 100000
   */
  maxPending?: number;
  /** Passive server: a pending update the live active has not published within this is dropped. @default 10000 */
  pendingTtlMs?: number;
  /** Passive server: how long the active may stay silent before the passive resyncs. @default 5000 */
  peerTtlMs?: number;
  /** A snapshot send blocked this long (the client not reading) abandons that snapshot. @default 2000 */
  snapshotSendTimeoutMs?: number;
  /**
   * Snapshots copied and sent at once (each holds a copy of the map); more wait their turn, up to
   * 10,000 waiting. @default 8
   */
  maxConcurrentSnapshots?: number;
  /** Socket linger. @default 0 */
  lingerMs?: number;
  /** CURVE on the three sockets (and, for a pair, on the link to the peer with the same keys). */
  security?: SecurityOptions | undefined;
  /** Time source of the HUGZ, expiry and pending timers (a `ManualClock` in tests). @default systemClock */
  clock?: Clock;
  /** Parent logger. @default silent */
  logger?: Logger;
}

/**
 * The server's defaults: loopback endpoints on kernel-chosen ports, HUGZ every 1000 ms; see `CloneServerOptions`.
 */
export const cloneServerDefaults = {
  snapshotEndpoint: 'tcp://127.0.0.1:*',
  publisherEndpoint: 'tcp://127.0.0.1:*',
  collectorEndpoint: 'tcp://127.0.0.1:*',
  hugzIntervalMs: 1000,
  flushIntervalMs: 1000,
  maxPending: 100_000,
  pendingTtlMs: 10_000,
  peerTtlMs: 5000,
  snapshotSendTimeoutMs: 2000,
  maxConcurrentSnapshots: 8,
  lingerMs: 0,
  fsync: false,
} as const;

/** The three endpoints of the book's port layout: P, P+1, P+2 on `host`. */
export function portEndpoints(
  port: number,
  host = '127.0.0.1',
): Pick<Required<CloneServerOptions>, 'snapshotEndpoint' | 'publisherEndpoint' | 'collectorEndpoint'> {
  return {
    snapshotEndpoint: `tcp://${host}:${port}`,
    publisherEndpoint: `tcp://${host}:${port + 1}`,
    collectorEndpoint: `tcp://${host}:${port + 2}`,
  };
}

/** Counters of one `CloneServer`, from its start. */
export interface CloneServerStats {
  /** Client updates sequenced and published by this server. */
  updates: number;
  /** Snapshot requests (ICANHAZ?) received and accepted by the vote. */
  snapshots: number;
  /** Snapshots abandoned because the client stopped reading or vanished. */
  snapshotsAborted: number;
  /** Snapshot requests that waited for one of the `maxConcurrentSnapshots` slots. */
  snapshotsQueued: number;
  /**
   * Snapshot requests dropped because the wait queue was full, or because the same client (the
   * same connection) already has one running or waiting (the client asks again).
   */
  snapshotsRefused: number;
  /** Keys deleted because their TTL ran out (active only). */
  expired: number;
  /**
   * Malformed messages on any socket, dropped and logged: the public ports, and the links to the
   * peer (HUGZ watch, and a passive's update stream and snapshot), where a connection libzmq
   * closed over a frame past the size limit counts one too (the link is reopened).
   */
  badMessages: number;
  /** Snapshot requests dropped because the Binary Star vote went against us. */
  votesRejected: number;
  /** Passive: updates applied from the active. */
  replicated: number;
  /** Passive: client updates refused because the pending list was full. */
  pendingRefused: number;
  /** Passive: pending updates dropped because the live active never published them. */
  pendingExpired: number;
  /** Passive: pending updates dropped by a resync (the snapshot cannot say whether they were sequenced). */
  pendingDropped: number;
  /** Split brains seen (both servers active). */
  splitBrains: number;
  /** Updates this server sequenced while active that it handed to the winner after losing a split brain. */
  splitBrainHandedOver: number;
  /** Client updates dropped because this server had already sequenced their UUID. */
  duplicates: number;
  /** Pending updates published on becoming active. */
  replayed: number;
  /** Journal batches committed. */
  commits: number;
  /**
   * Journal writes that failed. An active's batch is then neither applied nor published; a
   * passive's (applied already) is written by the next write, which replaces the journal whole.
   */
  journalFailures: number;
}

/**
 * What `server.status()` yields besides `started` and `closed`. A passive server also reports
 * how it follows its active peer (`server` is the peer's snapshot endpoint): `server-dead` when
 * the peer has been silent for `peerTtlMs` (the passive then asks it again).
 */
export type CloneServerStatus =
  | {
      /** The server's role changed: a pair decided, failed over, or resolved a split brain. */
      readonly type: 'role';
      /** The role before. */
      readonly from: CloneServerRole;
      /** The role now. */
      readonly to: CloneServerRole;
    }
  | {
      /**
       * Both servers of the pair were active; the data decided which one stays. Reported once
       * per split brain, when decided: both sides froze their sequence and exchanged it.
       */
      readonly type: 'split-brain';
      /** Whether this server stays active (the other steps down and hands its updates over). */
      readonly stays: boolean;
      /** This server's sequence, frozen when it saw the split brain. */
      readonly sequence: bigint;
      /** The peer's, as it answered (frozen too); undefined when it stopped being active first. */
      readonly peerSequence: bigint | undefined;
    }
  | {
      /** `health` turned false: a journal commit or the passive's replica loop failed. */
      readonly type: 'unhealthy';
      /** Which and why, as in `health.reason`. */
      readonly reason: string;
    }
  | {
      /** `health` turned true again: the journal takes writes again (and nothing else is wrong). */
      readonly type: 'healthy';
    }
  | ServerDeadStatus
  | {
      /** Passive: a snapshot of the active peer is applied and the passive follows its stream. */
      readonly type: 'connected';
      /** The peer's snapshot endpoint. */
      readonly server: string;
    }
  | {
      /** Passive: the replica of the peer takes a new snapshot (see `CloneClientStatus`). */
      readonly type: 'resync';
      /** The peer's snapshot endpoint. */
      readonly server: string;
      /** Why: `gap`, `hugz` or `restart`. */
      readonly reason: ResyncReason;
    };

/** `ok`, or why not. */
export type CloneServerHealth = { ok: true } | { ok: false; reason: string };

/** Where a server stands. A lone server is always `active`. */
export type CloneServerRole = 'active' | 'passive' | 'deciding';

type ResolvedOptions = Required<Omit<CloneServerOptions, 'clock' | 'logger' | 'pair' | 'dataDir' | 'security'>>;

/** Snapshot requests that may wait for a slot; more are dropped. */
const MAX_QUEUED_SNAPSHOTS = 10_000;

/**
 * UUIDs remembered for duplicate detection (ours as active, the active's as passive): a client
 * copy of one of these is never sequenced again, however late it comes.
 */
const RECENT_UUIDS = 100_000;

interface Pending {
  msg: KvMsg;
  at: number;
  /** Identical updates without a UUID held under one id. */
  copies: number;
}

/**
 * How a passive matches a client's update with the active's publication of it: by UUID, or, for an
 * update without one (the book's clients send none), by key and value.
 */
function pendingId(msg: KvMsg): string {
  if (msg.uuid.length > 0) return msg.uuid.toString('hex');
  return `anonymous:${createHash('sha1').update(msg.key).update('\0').update(msg.body).digest('hex')}`;
}

/**
 * A Clone (12/CHP) server: it hands out snapshots (ROUTER, port P), sequences and publishes
 * client updates (collector SUB P+2, publisher PUB P+1) and keeps the map, optionally journaled
 * to `dataDir`. Alone, or as one of a Binary Star pair (`pair`). `new CloneServer(options)`
 * validates and opens nothing; `await server.start()` loads the journal (one it cannot use rejects
 * with `JournalError`), binds the three sockets and joins the pair, and resolves once the server
 * is ready: bound (`endpoints` filled in) and serving, or, in a pair, taking part in the vote.
 * `status()` reports role changes, split brains, health and, on a passive, how it follows its peer.
 */
export class CloneServer extends Component<CloneServerStatus> {
  readonly #o: ResolvedOptions;
  readonly #options: CloneServerOptions;
  readonly #clock: Clock;
  /** True once `onStart` has finished: only a server that served logs its closing line. */
  #served = false;
  readonly #log: Logger;
  /** Warnings about peers' bad messages: at most 10 a second (every one is counted). */
  readonly #warnings: WarningLimiter;
  readonly #store = new KvStore();
  #snapshot: Channel<zmq.Router> | undefined;
  #publisher: Channel<zmq.Publisher> | undefined;
  #collector: Channel<zmq.Subscriber> | undefined;
  #guards: ServerSecurity[] = [];
  #publisherGuard: ServerSecurity | undefined;
  #subscribers = 0;
  readonly #timers = new Set<TimerHandle>();
  readonly #bstar: BinaryStar | undefined;
  #peerWatch: Channel<zmq.Subscriber> | undefined;
  /**
   * The peer's sequence as its last HUGZ showed it: logged with a split brain, for the operator
   * (the decision itself is taken on numbers exchanged at that moment; see split-brain.ts).
   */
  #peerSequence: bigint | undefined;
  /**
   * Active: the last update to each key this server sequenced in its current term as active, all
   * of them (a key whose TTL ran out leaves it): what it hands over if it loses a split brain.
   */
  #term = new Map<string, KvMsg>();
  /** A pair: decides a split brain on numbers both servers agree on. */
  readonly #arbiter: SplitBrainArbiter | undefined;
  /** UUIDs of recently sequenced updates (ours or the active's), oldest first: duplicates are dropped. */
  readonly #recent = new Set<string>();
  #lostSplitBrain = false;
  #journal: MapJournal | undefined;
  /** Active: sequenced, not yet committed (with a journal). Passive: replicated, not yet committed. */
  #batch: { msg: KvMsg; expiry: boolean }[] = [];
  /** With a journal: the last sequence handed out; the store's is the last one committed. */
  #staged = 0n;
  #flushScheduled = false;
  #role: CloneServerRole;
  #follower: Follower | undefined;
  /** Passive: client updates not yet seen from the active, oldest first, by UUID (hex). */
  readonly #pending = new Map<string, Pending>();
  /**
   * Passive: the active's anonymous updates whose client copy has not arrived yet, by key and
   * value, oldest first; bounded by count (RECENT_UUIDS), never by age.
   */
  readonly #seenFromActive = new Map<string, { copies: number }>();
  #refusedLoggedAt = -Infinity;
  /** What is wrong, by cause (the replica loop, the journal): healthy when empty. */
  readonly #faults = new Map<'replica' | 'journal', string>();
  #snapshotsRunning = 0;
  readonly #snapshotQueue: { identity: Buffer; subtree: string }[] = [];
  /** Clients (identities, hex) with a snapshot running or waiting: one each at most. */
  readonly #snapshotPeers = new Set<string>();
  readonly #stats: CloneServerStats = {
    updates: 0,
    snapshots: 0,
    snapshotsAborted: 0,
    snapshotsQueued: 0,
    snapshotsRefused: 0,
    expired: 0,
    badMessages: 0,
    votesRejected: 0,
    replicated: 0,
    pendingRefused: 0,
    pendingExpired: 0,
    pendingDropped: 0,
    splitBrains: 0,
    splitBrainHandedOver: 0,
    duplicates: 0,
    replayed: 0,
    commits: 0,
    journalFailures: 0,
  };
  /** The three endpoints as bound (a `*` port resolved), filled in by `start()`. */
  readonly endpoints: CloneServerAddress = { snapshot: '', publisher: '', collector: '' };

  constructor(options: CloneServerOptions = {}) {
    super();
    this.#options = options;
    this.#o = { ...cloneServerDefaults, ...definedOnly(options) };
    this.#clock = options.clock ?? systemClock;
    this.#log = componentLogger(options.logger, { component: 'clone-server' });
    this.#warnings = new WarningLimiter(this.#log, this.#clock, 10);
    for (const name of [
      'hugzIntervalMs',
      'flushIntervalMs',
      'maxPending',
      'pendingTtlMs',
      'peerTtlMs',
      'snapshotSendTimeoutMs',
      'maxConcurrentSnapshots',
    ] as const) {
      if (!(this.#o[name] > 0))
        throw new InvalidArgumentError(`clone server: ${name} must be > 0, got ${this.#o[name]}`);
    }
    if (!(this.#o.lingerMs >= 0)) throw new InvalidArgumentError('clone server: lingerMs must be >= 0');
    const security = withPeerAdmitted(options.security, options.pair !== undefined);
    const pair = options.pair;
    this.#role = pair === undefined ? 'active' : 'deciding';
    if (pair !== undefined) {
      this.#bstar = new BinaryStar({
        role: pair.role,
        stateBind: pair.stateBind,
        stateConnect: pair.stateConnect,
        clock: this.#clock,
        ...(pair.heartbeatMs === undefined ? {} : { heartbeatMs: pair.heartbeatMs }),
        ...(options.logger === undefined ? {} : { logger: options.logger }),
        resolveSplitBrain: () => this.#arbiter?.onPeerActive() ?? pair.role === 'primary',
        ...(security === undefined ? {} : { curve: pairStateCurve(security) }),
      });
      this.#arbiter = new SplitBrainArbiter({
        role: pair.role,
        heartbeatMs: pair.heartbeatMs ?? 1000,
        peerSnapshot: () => this.#peerAddress().snapshot,
        security: peerSecurity(options.security),
        clock: this.#clock,
        log: this.#log,
        sequence: () => this.#store.sequence,
        active: () => this.#role === 'active',
        freeze: () => this.#commit(),
        decided: (outcome) => this.#splitBrainDecided(outcome),
      });
    }
  }

  /** The last sequence number committed (0 for an empty server). */
  get sequence(): bigint {
    return this.#store.sequence;
  }

  /** How many keys the map holds. */
  get size(): number {
    return this.#store.size;
  }

  /** Active (serving and sequencing), passive (following the peer) or deciding (a pair, at start). */
  get role(): CloneServerRole {
    return this.#role;
  }

  /** Client updates held by a passive server. */
  get pendingCount(): number {
    return this.#pending.size;
  }

  /** Connections to the update publisher now: clients (and a pair's peer) that follow the stream. */
  get subscribers(): number {
    return this.#publisherGuard?.peers ?? this.#subscribers;
  }

  /** Counts the publisher's connections from its socket events (CURVE's guard counts them otherwise). */
  async #countSubscribers(socket: zmq.Publisher): Promise<void> {
    try {
      for await (const event of socket.events) {
        if (event.type === 'accept') this.#subscribers++;
        else if (event.type === 'disconnect') this.#subscribers = Math.max(0, this.#subscribers - 1);
      }
    } catch {
      // the socket closed
    }
  }

  /**
   * Whether this server works as it should: false while the passive's replica loop has failed or
   * the last journal write failed (`reason` says which and why); a journal write that succeeds
   * again makes it true. clonesrv's /healthz answers 503 meanwhile.
   */
  get health(): CloneServerHealth {
    const [reason] = this.#faults.values();
    return reason === undefined ? { ok: true } : { ok: false, reason };
  }

  #unhealthy(what: 'replica' | 'journal', err: Error): void {
    const wasOk = this.#faults.size === 0;
    const reason = `${what}: ${err.message}`;
    this.#faults.set(what, reason);
    this.#log.error({ err, what }, 'clone server unhealthy');
    if (wasOk) this.emit({ type: 'unhealthy', reason });
  }

  #recovered(what: 'replica' | 'journal'): void {
    if (!this.#faults.delete(what)) return;
    this.#log.warn({ what, healthy: this.#faults.size === 0 }, 'clone server recovered');
    if (this.#faults.size === 0) this.emit({ type: 'healthy' });
  }

  #setRole(to: CloneServerRole): void {
    const from = this.#role;
    this.#role = to;
    if (from !== to) this.emit({ type: 'role', from, to });
  }

  /** The Binary Star reactor of a pair, for its state and counters. */
  get binaryStar(): BinaryStar | undefined {
    return this.#bstar;
  }

  /** Load the journal, bind the three sockets, join the pair if any, and start serving. */
  protected override async onStart(signal: AbortSignal): Promise<void> {
    if (this.#options.dataDir !== undefined) {
      const journal = new CloneJournal(this.#options.dataDir, { fsync: this.#o.fsync });
      this.#journal = new MapJournal(journal, this.#store, () => this.#clock.now(), {
        committed: () => (this.#stats.commits += 1),
        failed: (err, updates) => {
          this.#stats.journalFailures += 1;
          this.#log.error({ err: toError(err), updates }, 'journal commit failed');
          this.#unhealthy('journal', toError(err));
        },
        recovered: () => this.#recovered('journal'),
      });
      const { sequence, entries } = journal.load();
      this.#store.replace(entries, sequence, this.#clock.now());
      this.#staged = sequence;
      this.#log.info({ path: journal.path, sequence, keys: entries.length }, 'journal loaded');
    }
    throwIfAborted(signal);
    const linger = this.#o.lingerMs;
    // mandatory: a send to a vanished client fails at once; sendTimeout: a client that stops reading
    // mid-snapshot holds the socket this long at most.
    const router = new zmq.Router({ linger, mandatory: true, sendTimeout: this.#o.snapshotSendTimeoutMs });
    const publisher = new zmq.Publisher({ linger });
    // Matches the clients' write high-water mark, so a burst is queued, not dropped, on both ends.
    const collector = new zmq.Subscriber({ linger, receiveHighWaterMark: 100_000 });
    collector.subscribe();
    // Owned from here on: onClose closes them whatever fails next.
    this.#snapshot = new Channel(router, { name: 'snapshot', logger: this.#log });
    this.#publisher = new Channel(publisher, { name: 'publisher', logger: this.#log });
    this.#collector = new Channel(collector, { name: 'collector', logger: this.#log });
    const security = withPeerAdmitted(this.#options.security, this.#options.pair !== undefined);
    for (const socket of [router, publisher, collector]) {
      const guard = applyBindSecurity(socket, security, this.#options.logger);
      if (guard !== undefined) this.#guards.push(guard);
      if (socket === publisher) this.#publisherGuard = guard;
    }
    if (this.#publisherGuard === undefined) void this.#countSubscribers(publisher);
    if (this.#bstar !== undefined) {
      // The peer's HUGZ, always: what it last showed of its sequence, for the split-brain log.
      const watch = new zmq.Subscriber({ linger: 0 });
      applyConnectSecurity(watch, peerSecurity(this.#options.security));
      applyPeerLimits(watch);
      watch.subscribe(HUGZ);
      this.#peerWatch = new Channel(watch, { name: 'peer-hugz', logger: this.#log });
    }
    await Promise.all(this.#guards.map((g) => g.ready()));
    await router.bind(this.#o.snapshotEndpoint);
    await publisher.bind(this.#o.publisherEndpoint);
    await collector.bind(this.#o.collectorEndpoint);
    throwIfAborted(signal);
    const snapshot = this.#snapshot;
    this.endpoints.snapshot = router.lastEndpoint ?? this.#o.snapshotEndpoint;
    this.endpoints.publisher = publisher.lastEndpoint ?? this.#o.publisherEndpoint;
    this.endpoints.collector = collector.lastEndpoint ?? this.#o.collectorEndpoint;
    void this.#collector.start((m) => this.#onCollector(m));
    const bstar = this.#bstar;
    if (bstar === undefined) {
      void snapshot.start((m) => this.#onSnapshotRequest(m));
    } else {
      bstar.onActive(() => this.#becomeActive());
      bstar.onPassive(() => this.#becomePassive());
      const watch = this.#peerWatch;
      if (watch !== undefined) {
        try {
          const peer = this.#peerAddress();
          const endpoint = peer.hugz ?? peer.publisher;
          watchPeerLink(watch.socket, endpoint, () =>
            this.#bad(new ProtocolError(`${OVER_LIMIT}; reconnected`), 'peer-hugz'),
          );
          watch.socket.connect(endpoint);
        } catch (err) {
          this.#unhealthy('replica', toError(err));
        }
        void watch.start((m) => {
          try {
            const msg = decodeKvMsg(m);
            if (msg.key === 'HUGZ' && msg.sequence > 0n) this.#peerSequence = msg.sequence;
          } catch (err) {
            this.#bad(err, 'peer-hugz');
          }
        });
      }
      await bstar.start();
      void snapshot.start((m) => {
        if (this.#onSplitBrainQuery(m)) return;
        if (bstar.vote()) this.#onSnapshotRequest(m);
        else this.#stats.votesRejected += 1;
      });
    }
    this.#every(this.#o.hugzIntervalMs, () => {
      if (this.#role === 'active') this.#publisher?.post(encodeHugz(this.#store.sequence));
    });
    this.#every(this.#o.flushIntervalMs, () => {
      if (this.#role === 'active') this.#expire();
      if (this.#batch.length === 0) this.#journal?.retry();
    });
    this.#log.info(
      { endpoints: this.endpoints, role: this.#role, pair: this.#options.pair?.role, sequence: this.sequence },
      'clone server started',
    );
    this.#served = true;
  }

  #every(ms: number, fn: () => void): void {
    const tick = (): void => {
      this.#timers.delete(handle);
      if (this.closeSignal.aborted) return;
      fn();
      handle = this.#clock.setTimeout(tick, ms);
      this.#timers.add(handle);
    };
    let handle = this.#clock.setTimeout(tick, ms);
    this.#timers.add(handle);
  }

  // ---- active: sequence, commit, publish -------------------------------------------------------

  /**
   * Sequence a client update (or an expiry delete) and publish it. Without a journal it is applied
   * and published at once. With one it is only given its sequence and queued: the batch is
   * committed once per event-loop turn, and applied and published only after its commit, so memory
   * (snapshots, HUGZ) never runs ahead of what is on disk.
   */
  #sequenceAndPublish(update: KvMsg, expiry = false): void {
    if (this.#journal === undefined) {
      const msg = this.#store.apply(update, this.#clock.now());
      this.#sequenced(msg);
      this.#publisher?.post(encodeKvMsg(msg));
      return;
    }
    this.#staged += 1n;
    this.#batch.push({ msg: { ...update, sequence: this.#staged, properties: new Map(update.properties) }, expiry });
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => this.#commit());
    }
  }

  /** Commit the batch, then apply and publish it. A failed commit applies nothing: unhealthy. */
  #commit(): void {
    if (this.#role !== 'active') return this.#flushReplicated();
    this.#flushScheduled = false;
    const batch = this.#batch;
    if (batch.length === 0) return;
    this.#batch = [];
    const msgs = batch.map((b) => b.msg);
    if (this.#journal?.write(msgs, this.#staged) === false) {
      // Nothing was applied or published: those sequence numbers were never seen by anyone.
      this.#staged = this.#store.sequence;
      for (const b of batch) if (b.expiry) this.#store.rearmExpiry(b.msg.key);
      return;
    }
    const now = this.#clock.now();
    for (const { msg, expiry } of batch) {
      this.#store.applySequenced(msg, now);
      this.#sequenced(msg, expiry);
      this.#publisher?.post(encodeKvMsg(msg));
    }
  }

  /** Active: `msg` is applied with its sequence; remember it for duplicates and a split brain. */
  #sequenced(msg: KvMsg, expiry = false): void {
    if (expiry) this.#term.delete(msg.key); // gone here; the winner of a split brain expires its own
    if (msg.uuid.length === 0) return; // expiry deletes and the book's clients' anonymous updates
    this.#remember(msg.uuid);
    if (this.#bstar === undefined) return;
    this.#term.delete(msg.key);
    this.#term.set(msg.key, msg);
  }

  #remember(uuid: Buffer): void {
    const id = uuid.toString('hex');
    this.#recent.delete(id);
    this.#recent.add(id);
    if (this.#recent.size > RECENT_UUIDS) {
      const oldest = this.#recent.values().next();
      if (oldest.done !== true) this.#recent.delete(oldest.value);
    }
  }

  #expire(): void {
    if (this.#arbiter?.frozen === true) return; // nothing is sequenced until a split brain is decided
    const now = this.#clock.now();
    if (this.#journal === undefined) {
      for (const msg of this.#store.expire(now)) {
        this.#stats.expired += 1;
        this.#term.delete(msg.key);
        this.#publisher?.post(encodeKvMsg(msg));
      }
      return;
    }
    for (const msg of this.#store.dueForExpiry(now)) {
      this.#stats.expired += 1;
      this.#sequenceAndPublish(msg, true);
    }
  }

  #onSnapshotRequest(message: Message): void {
    const [identity, ...rest] = message;
    if (identity === undefined) return;
    let subtree: string;
    try {
      subtree = decodeIcanhaz(rest);
    } catch (err) {
      this.#bad(err, 'snapshot', identity);
      return;
    }
    this.#stats.snapshots += 1;
    const peer = hex(identity);
    if (this.#snapshotPeers.has(peer)) {
      this.#stats.snapshotsRefused += 1; // one at a time per client: a peer cannot fill the queue
      return;
    }
    if (this.#snapshotsRunning < this.#o.maxConcurrentSnapshots) {
      this.#snapshotPeers.add(peer);
      this.#startSnapshot(identity, subtree);
      return;
    }
    // Each snapshot in flight holds a copy of (a subtree of) the map: after a failover every client
    // asks at once, so only so many are copied at a time and the rest wait their turn.
    if (this.#snapshotQueue.length >= MAX_QUEUED_SNAPSHOTS) {
      this.#stats.snapshotsRefused += 1; // the client times out and asks again
      return;
    }
    this.#stats.snapshotsQueued += 1;
    this.#snapshotPeers.add(peer);
    this.#snapshotQueue.push({ identity, subtree });
  }

  /**
   * A snapshot shows only committed state: commit what is queued first. It is taken here (the
   * entries and the sequence they add up to) and sent at the client's pace.
   */
  #startSnapshot(identity: Buffer, subtree: string): void {
    this.#commit();
    const entries = [...this.#store.snapshot(subtree, this.#clock.now())];
    this.#snapshotsRunning += 1;
    void this.#sendSnapshot(identity, entries, this.#store.sequence, subtree).finally(() => {
      this.#snapshotsRunning -= 1;
      this.#snapshotPeers.delete(hex(identity));
      const next = this.#snapshotQueue.shift();
      if (next !== undefined && !this.closeSignal.aborted) this.#startSnapshot(next.identity, next.subtree);
    });
  }

  /**
   * One message at a time, each awaited: a snapshot larger than the socket's high-water mark waits
   * for the client to read instead of being cut short, and a client that stops reading (or is
   * gone) ends only its own snapshot, without KTHXBAI, so it times out and asks again rather
   * than taking a partial map for a whole one.
   */
  async #sendSnapshot(identity: Buffer, entries: KvMsg[], sequence: bigint, subtree: string): Promise<void> {
    try {
      const channel = this.#snapshot;
      if (channel === undefined) return;
      for (const msg of entries) await channel.send([identity, ...encodeKvMsg(msg)]);
      await channel.send([identity, ...encodeKthxbai(sequence, subtree)]);
    } catch (err) {
      if (this.closeSignal.aborted) return;
      this.#stats.snapshotsAborted += 1;
      this.#log.warn(
        { peer: hex(identity), entries: entries.length, reason: toError(err).message },
        'snapshot abandoned: the client is not reading',
      );
    }
  }

  #onCollector(message: Message): void {
    let update: KvMsg;
    try {
      update = decodeKvMsg(message);
      if (isReservedKey(update.key)) throw new ProtocolError(`KVSET of the reserved key ${update.key}`);
    } catch (err) {
      this.#bad(err, 'collector');
      return;
    }
    if (this.#role === 'active' && this.#arbiter?.frozen !== true) {
      if (this.#sequencedBefore(update)) {
        this.#stats.duplicates += 1; // sequenced already (a handed-over update, or a resend)
        return;
      }
      this.#stats.updates += 1;
      this.#sequenceAndPublish(update);
      return;
    }
    // Passive, not yet decided, or frozen by a split brain: hold it until the active publishes it
    // (model six), or this server replays it on becoming (or staying) active, unless the
    // active has sequenced it already, however long ago: a late copy replayed on failover would
    // bring back a value that newer writes replaced.
    if (this.#sequencedBefore(update)) {
      this.#stats.duplicates += 1;
      return;
    }
    const id = pendingId(update);
    if (this.#consumeSeen(id)) return; // the active's copy came first
    if (this.#pending.size >= this.#o.maxPending) {
      this.#stats.pendingRefused += 1;
      const now = this.#clock.now();
      if (now - this.#refusedLoggedAt > 10_000) {
        this.#refusedLoggedAt = now;
        this.#log.warn(
          { pending: this.#pending.size, refused: this.#stats.pendingRefused },
          'pending list full: client update refused',
        );
      }
      return;
    }
    const same = this.#pending.get(id);
    if (same !== undefined) same.copies += 1;
    else this.#pending.set(id, { msg: update, at: this.#clock.now(), copies: 1 });
  }

  /**
   * Whether a client update with a UUID was sequenced already (by us or by the active we follow):
   * its UUID is among the last RECENT_UUIDS sequenced, or it is still its key's current value.
   */
  #sequencedBefore(update: KvMsg): boolean {
    if (update.uuid.length === 0) return false;
    if (this.#recent.has(update.uuid.toString('hex'))) return true;
    const current = this.#store.get(update.key);
    return current !== undefined && current.uuid.equals(update.uuid);
  }

  /** Passive: one of the active's anonymous updates matches this id; true if it was recorded as seen. */
  #consumeSeen(id: string): boolean {
    const seen = this.#seenFromActive.get(id);
    if (seen === undefined) return false;
    if (--seen.copies === 0) this.#seenFromActive.delete(id);
    return true;
  }

  // ---- pair: role changes ----------------------------------------------------------------------

  #becomeActive(): void {
    const was = this.#role;
    if (was === 'passive') this.#flushReplicated();
    this.#setRole('active');
    const follower = this.#follower;
    this.#follower = undefined;
    void follower?.close();
    this.#arbiter?.reset();
    this.#staged = this.#store.sequence;
    this.#term = new Map();
    this.#lostSplitBrain = false;
    const replayed = this.#replayPending();
    this.#log.info({ from: was, replayed, sequence: this.sequence }, 'clone server active');
  }

  /**
   * Client updates held (as passive, or frozen by a split brain) that no active sequenced:
   * sequence and publish them now, in order. Returns how many.
   */
  #replayPending(): number {
    let replayed = 0;
    for (const { msg } of this.#pending.values()) {
      if (this.#sequencedBefore(msg)) {
        this.#stats.duplicates += 1; // the old active sequenced it: never again
        continue;
      }
      replayed += 1;
      this.#stats.replayed += 1;
      this.#sequenceAndPublish(msg);
    }
    this.#pending.clear();
    this.#seenFromActive.clear();
    return replayed;
  }

  #becomePassive(): void {
    const pair = this.#options.pair;
    if (pair === undefined) return;
    this.#setRole('passive');
    this.#arbiter?.reset();
    this.#batch = [];
    let handover: KvMsg[] = [];
    let handingOver = false;
    if (this.#lostSplitBrain) {
      this.#lostSplitBrain = false;
      handover = [...this.#term.values()];
      keepDivergent(this.#options.dataDir, handover, this.#log);
    }
    this.#term = new Map();
    const follower = new Follower({
      sources: [this.#peerAddress()],
      subtrees: [''],
      serverTtlMs: this.#o.peerTtlMs,
      lingerMs: 0,
      clock: this.#clock,
      security: peerSecurity(this.#options.security),
      logger: this.#log.child({ peer: true }),
      limitFrames: true,
      onBadMessage: (socket, reason) => {
        if (this.#follower === follower) this.#bad(new ProtocolError(reason), `peer-${socket}`);
      },
      onSnapshot: (entries, sequence) => {
        if (this.#follower !== follower) return;
        this.#store.replace(
          entries.map((msg) => ({ msg })),
          sequence,
          this.#clock.now(),
        );
        // Every update held so far came before this snapshot: whether the active sequenced it (and
        // maybe overwrote it since) the snapshot cannot tell, as it carries only each key's last
        // write. Replaying such an update could bring back a replaced value, so none is kept.
        this.#stats.pendingDropped += this.#pending.size;
        this.#pending.clear();
        for (const e of entries) if (e.uuid.length > 0) this.#remember(e.uuid);
        this.#journalReplace();
        if (handover.length > 0 && !handingOver) {
          // what a failed hand-over did not send goes again with the next snapshot (a resync)
          const updates = handover;
          handover = [];
          handingOver = true;
          void this.#handOver(updates).then((rest) => {
            handover = [...rest, ...handover];
            handingOver = false;
          });
        }
      },
      onUpdate: (msg) => {
        if (this.#follower !== follower) return;
        this.#onPeerUpdate(msg);
      },
      onHugz: () => {
        if (this.#follower === follower) this.#prunePending();
      },
      onEvent: (event) => {
        if (this.#follower === follower) this.#onPeerEvent(event);
      },
    });
    this.#follower = follower;
    this.#log.info({ peer: pair.peer }, 'clone server passive, following the active');
    void follower.start().catch(() => undefined); // reported by done, below
    void follower.done.then((failure) => {
      if (failure === undefined || this.#follower !== follower) return;
      this.#unhealthy('replica', failure);
    });
  }

  /** Passive: how the replica of the active goes, on the status feed. */
  #onPeerEvent(event: FollowerEvent): void {
    const server = this.#peerAddress().snapshot;
    if (event.type === 'connected') this.emit({ type: 'connected', server });
    else if (event.type === 'server-dead') this.emit({ type: 'server-dead', server, silentMs: event.silentMs });
    else if (event.type === 'resync') this.emit({ type: 'resync', server, reason: event.reason });
  }

  #onPeerUpdate(msg: KvMsg): void {
    this.#stats.replicated += 1;
    if (msg.uuid.length > 0) this.#remember(msg.uuid);
    const now = this.#clock.now();
    const id = pendingId(msg);
    const pending = this.#pending.get(id);
    if (pending !== undefined) {
      if (--pending.copies === 0) this.#pending.delete(id);
    } else if (msg.uuid.length === 0) {
      // An anonymous update (the book's clients) can only be matched by key and value, copy for
      // copy; one with a UUID is in #recent, which is what a late client copy is checked against.
      const seen = this.#seenFromActive.get(id);
      if (seen !== undefined) seen.copies += 1;
      else {
        this.#seenFromActive.set(id, { copies: 1 });
        if (this.#seenFromActive.size > RECENT_UUIDS) {
          const oldest = this.#seenFromActive.keys().next();
          if (oldest.done !== true) this.#seenFromActive.delete(oldest.value);
        }
      }
    }
    this.#store.applySequenced(msg, now);
    if (this.#journal !== undefined) {
      this.#batch.push({ msg, expiry: false });
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        setImmediate(() => this.#flushReplicated());
      }
    }
  }

  // ---- pair: split brain ----------------------------------------------------------------------

  #peerAddress(): Omit<CloneServerAddress, 'collector'> & { collector?: string; hugz?: string } {
    const peer = this.#options.pair?.peer ?? '';
    return typeof peer === 'string' ? serverAddress(peer) : peer;
  }

  /** The peer asks who stays (split-brain.ts); true if `message` was that question. */
  #onSplitBrainQuery(message: Message): boolean {
    const [identity, ...rest] = message;
    if (identity === undefined || this.#arbiter === undefined) return false;
    let peerSequence: bigint | undefined;
    try {
      peerSequence = decodeSplitBrainQuery(rest);
    } catch (err) {
      this.#bad(err, 'snapshot', identity);
      return true;
    }
    if (peerSequence === undefined) return false;
    this.#snapshot?.post([identity, ...this.#arbiter.answer(peerSequence)]);
    return true;
  }

  /**
   * A split brain is decided (split-brain.ts). The winner resumes and replays what it held; the
   * loser stays frozen until Binary Star steps it down, then hands over its term (#becomePassive).
   */
  #splitBrainDecided({ stays, sequence, peerSequence }: SplitBrainOutcome): void {
    this.#stats.splitBrains += 1;
    this.#log.error(
      {
        sequence,
        peerSequence,
        peerLastHugz: this.#peerSequence,
        role: this.#options.pair?.role,
        stays,
        divergent: this.#term.size,
      },
      stays
        ? 'split brain: both servers active; this one has more, it stays active'
        : 'split brain: both servers active; the peer has more, this one steps down',
    );
    if (!stays) this.#lostSplitBrain = true;
    this.emit({ type: 'split-brain', stays, sequence, peerSequence });
    if (stays && this.#role === 'active') this.#replayPending();
  }

  /** Hand the term of a lost split brain to the winner's collector (split-brain.ts). */
  async #handOver(updates: readonly KvMsg[]): Promise<KvMsg[]> {
    const collector = this.#peerAddress().collector;
    if (collector === undefined) return [];
    const security = peerSecurity(this.#options.security);
    const sent = await handOver(collector, updates, security, this.#log);
    this.#stats.splitBrainHandedOver += sent;
    return updates.slice(sent);
  }

  /**
   * Passive: commit what was replicated from the active (nothing to publish). The map holds it
   * already: if the commit fails, the journal is behind and the next write replaces it whole.
   */
  #flushReplicated(): void {
    this.#flushScheduled = false;
    const batch = this.#batch.map((b) => b.msg);
    this.#batch = [];
    if (batch.length > 0 && this.#journal?.write(batch, this.#store.sequence) === false) this.#journal.markBehind();
  }

  /** The active is alive (a HUGZ): what it has not published by now, it never will. */
  #prunePending(): void {
    const horizon = this.#clock.now() - this.#o.pendingTtlMs;
    for (const [id, p] of this.#pending) {
      if (p.at > horizon) break;
      this.#pending.delete(id);
      this.#stats.pendingExpired += 1;
    }
  }

  /** Passive: a snapshot replaced the map; the journal must follow, whole. */
  #journalReplace(): void {
    if (this.#journal === undefined) return;
    this.#batch = [];
    this.#journal.markBehind();
    this.#journal.sync();
  }

  #bad(err: unknown, socket: string, peer?: Buffer): void {
    this.#stats.badMessages += 1;
    const e = toError(err);
    this.#warnings.warn(
      {
        socket,
        peer: peer === undefined ? undefined : hex(peer),
        reason: e instanceof ProtocolError ? e.message : String(e),
      },
      'bad message dropped',
    );
  }

  /** A snapshot of the counters; read it again for fresh figures. */
  get stats(): CloneServerStats {
    return { ...this.#stats };
  }

  /** Stop serving and close every socket and the journal (copes with a partial start). */
  protected override async onClose(): Promise<void> {
    for (const t of this.#timers) this.#clock.clearTimeout(t);
    this.#timers.clear();
    if (this.#role === 'active') this.#commit();
    this.#arbiter?.close();
    await this.#follower?.close();
    await this.#bstar?.close();
    await this.#peerWatch?.close();
    await Promise.all([this.#snapshot?.close(), this.#publisher?.close(), this.#collector?.close()]);
    await Promise.all(this.#guards.map((g) => g.release()));
    this.#journal?.close();
    if (this.#served) this.#log.info({ sequence: this.sequence }, 'clone server closed');
  }
}

/**
 * A pair shares one key pair, and the passive follows the active with it: admit that key on top of
 * the allow-list, so operators need not list the servers' own key.
 */
function withPeerAdmitted(security: SecurityOptions | undefined, paired: boolean): SecurityOptions | undefined {
  const authorize = security?.authorize;
  if (security === undefined || !paired || authorize === undefined) return security;
  const own = resolveCurveKeys(security.curve).publicKey;
  const allowed = (request: ZapRequest): boolean => {
    if (request.publicKey === own) return true;
    if (typeof authorize === 'function') return authorize(request);
    return authorize.has(request.publicKey ?? '');
  };
  return { ...security, authorize: allowed };
}

/** The passive's link to its peer: the same keys, the peer as server (a pair shares one key pair). */
/** CURVE for the pair's Binary Star state channel: our keys, the peer's key (ours unless given). */
function pairStateCurve(security: SecurityOptions): CurveKeyPair & { peerPublicKey: string } {
  const keys = resolveCurveKeys(security.curve);
  return { ...keys, peerPublicKey: security.curve.serverPublicKey ?? keys.publicKey };
}

function peerSecurity(security: SecurityOptions | undefined): SecurityOptions | undefined {
  if (security === undefined) return undefined;
  const keys = resolveCurveKeys(security.curve);
  return { curve: { ...keys, serverPublicKey: security.curve.serverPublicKey ?? keys.publicKey } };
}
