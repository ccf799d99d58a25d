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
 *
 * Here the parts are wired together: sockets (server-sockets.ts), one role object at a time (active.ts,
 * passive.ts), journal batching, snapshots and, in a pair, the split-brain hand-over (hand-over.ts).
 */
import type { Clock, Logger, Message, TimerHandle } from '@zpatterns/core';
import { Component, NotStartedError, ProtocolError, systemClock, throwIfAborted, toError } from '@zpatterns/core';
import { componentLogger, hex, WarningLimiter } from '@zpatterns/core/internal';
import type { BinaryStar } from '@zpatterns/bstar';
import { ActiveRole } from './active.js';
import type { CloneServerAddress } from './address.js';
import { CloneJournal } from './journal.js';
import { JournalBatch } from './journal-batch.js';
import type { KvMsg } from './kvmsg.js';
import { decodeClientUpdate, isReservedKey } from './kvmsg.js';
import { MapJournal } from './map-journal.js';
import { ClonePair } from './pair.js';
import { peerSecurity, withPeerAdmitted } from './pair-security.js';
import { PassiveRole } from './passive.js';
import { PendingUpdates } from './pending.js';
import { SequencedUuids } from './sequenced.js';
import { resolveServerOptions, type CloneServerOptions } from './server-options.js';
import type { ResolvedServerOptions } from './server-options.js';
import { DecidingRole, type ServerContext, type ServerRole } from './server-role.js';
import { ServerSockets } from './server-sockets.js';
import {
  ServerHealth,
  zeroStats,
  type CloneServerHealth,
  type CloneServerRole,
  type CloneServerStats,
  type CloneServerStatus,
} from './server-status.js';
import { SnapshotService } from './snapshots.js';
import { KvStore } from './store.js';

export { cloneServerDefaults, portEndpoints } from './server-options.js';
export type { ClonePairOptions, CloneServerOptions } from './server-options.js';
export type { CloneServerHealth, CloneServerRole, CloneServerStats, CloneServerStatus } from './server-status.js';

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
  readonly #o: ResolvedServerOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  /** Warnings about peers' bad messages: at most 10 a second (every one is counted). */
  readonly #warnings: WarningLimiter;
  readonly #stats = zeroStats();
  readonly #health: ServerHealth;
  readonly #ctx: ServerContext;
  readonly #timers = new Set<TimerHandle>();
  /** A pair: the peer, Binary Star, and the split-brain decision and hand-over. */
  readonly #pair: ClonePair | undefined;
  #sockets: ServerSockets | undefined;
  #role: ServerRole;
  /** True once `onStart` has finished: only a server that served logs its closing line. */
  #served = false;
  constructor(options: CloneServerOptions = {}) {
    super();
    const o = (this.#o = resolveServerOptions(options));
    const clock = (this.#clock = o.clock ?? systemClock);
    const log = (this.#log = componentLogger(o.logger, { component: 'clone-server' }));
    this.#warnings = new WarningLimiter(log, clock, 10);
    this.#health = new ServerHealth(log, (event) => this.emit(event));
    const store = new KvStore();
    const pair = o.pair;
    this.#ctx = {
      store,
      batch: new JournalBatch(store, () => this.#role.flush()),
      sequenced: new SequencedUuids(store),
      pending: new PendingUpdates(o.maxPending, clock, log, this.#stats),
      stats: this.#stats,
      clock,
      log,
      paired: pair !== undefined,
      publish: (frames) => this.#sockets?.publisher.post(frames),
      bad: (err, socket, peer) => this.#bad(err, socket, peer),
      emit: (event) => this.emit(event),
      unhealthy: (source, err) => this.#health.fail(source, err),
    };
    this.#role = pair === undefined ? new ActiveRole(this.#ctx) : new DecidingRole(this.#ctx);
    if (pair === undefined) return;
    this.#pair = new ClonePair(pair, o, clock, log, {
      sequence: () => store.sequence,
      active: () => this.#active !== undefined,
      freeze: () => this.#role.flush(),
      divergent: () => this.#active?.termSize ?? 0,
      decided: ({ stays, sequence, peerSequence }) => {
        this.#stats.splitBrains += 1;
        const peerSaid = peerSequence === undefined ? {} : { peerSequence };
        this.emit({ type: 'split-brain', peer: this.#pair?.peer.snapshot ?? '', stays, sequence, ...peerSaid });
      },
      handedOver: (count) => (this.#stats.splitBrainHandedOver += count),
      resume: () => this.#active?.replay(),
      becomeActive: () => this.#becomeActive(),
      becomePassive: () => this.#becomePassive(),
    });
  }

  /** The last sequence number committed (0 for an empty server). */
  get sequence(): bigint {
    return this.#ctx.store.sequence;
  }

  /** How many keys the map holds. */
  get size(): number {
    return this.#ctx.store.size;
  }

  /**
   * The three endpoints as bound (a `*` port resolved); `NotStartedError` until `start()` has
   * bound them.
   */
  get endpoints(): Readonly<CloneServerAddress> {
    const endpoints = this.#sockets?.endpoints;
    if (endpoints === undefined) throw new NotStartedError('CloneServer');
    return endpoints;
  }

  /** Active (serving and sequencing), passive (following the peer) or deciding (a pair, at start). */
  get role(): CloneServerRole {
    return this.#role.name;
  }

  /** Client updates held by a passive server. */
  get pendingCount(): number {
    return this.#ctx.pending.size;
  }

  /** Connections to the update publisher now: clients (and a pair's peer) that follow the stream. */
  get subscribers(): number {
    return this.#sockets?.subscribers ?? 0;
  }

  /**
   * Whether this server works as it should: false while the passive's replica loop has failed or
   * the last journal write failed (`reason` says which and why); a journal write that succeeds
   * again makes it true. clonesrv's /healthz answers 503 meanwhile.
   */
  get health(): CloneServerHealth {
    return this.#health.state;
  }

  /** The Binary Star reactor of a pair, for its state and counters. */
  get binaryStar(): BinaryStar | undefined {
    return this.#pair?.bstar;
  }

  /** A snapshot of the counters; read it again for fresh figures. */
  get stats(): CloneServerStats {
    return { ...this.#stats };
  }

  /** Load the journal, bind the three sockets, join the pair if any, and start serving. */
  protected override async onStart(signal: AbortSignal): Promise<void> {
    const o = this.#o;
    if (o.dataDir !== undefined) await this.#openJournal(o.dataDir);
    throwIfAborted(signal);
    // Owned from here on: onClose closes them whatever fails next.
    const sockets = (this.#sockets = new ServerSockets(o, this.#log));
    const pair = this.#pair;
    await sockets.bind(o, withPeerAdmitted(o.security, pair !== undefined));
    throwIfAborted(signal);
    const snapshots = new SnapshotService({
      channel: sockets.snapshot,
      store: this.#ctx.store,
      clock: this.#clock,
      log: this.#log,
      stats: this.#stats,
      maxConcurrent: o.maxConcurrentSnapshots,
      sendTimeoutMs: o.snapshotSendTimeoutMs,
      closeSignal: this.closeSignal,
      flush: () => this.#role.flush(),
      bad: (err, identity) => this.#bad(err, 'snapshot', identity),
    });
    void sockets.collector.start((m) => this.#onCollector(m));
    if (pair === undefined) void sockets.snapshot.start((m) => snapshots.request(m));
    else {
      await pair.start(
        (err) => this.#bad(err, 'peer-hugz'),
        (err) => this.#health.fail('replica', err),
      );
      const bad = (err: unknown, identity: Buffer): void => this.#bad(err, 'snapshot', identity);
      pair.serve(
        sockets.snapshot,
        (m) => snapshots.request(m),
        () => (this.#stats.votesRejected += 1),
        bad,
      );
    }
    this.#every(o.heartbeatIntervalMs, () => this.#role.heartbeat());
    this.#every(o.flushIntervalMs, () => {
      this.#role.tick();
      this.#ctx.batch.retry();
    });
    this.#log.info(
      { endpoints: this.endpoints, role: this.role, pair: o.pair?.role, sequence: this.sequence },
      'clone server started',
    );
    this.#served = true;
  }

  /** Open `dataDir`'s journal and load the map from it. */
  async #openJournal(dataDir: string): Promise<void> {
    const journal = await CloneJournal.open(dataDir, { fsync: this.#o.fsync });
    const { store, batch } = this.#ctx;
    batch.open(
      new MapJournal(journal, store, () => this.#clock.now(), {
        committed: () => (this.#stats.commits += 1),
        failed: (err, updates) => {
          this.#stats.journalFailures += 1;
          this.#log.error({ err: toError(err), updates }, 'journal commit failed');
          this.#health.fail('journal', toError(err));
        },
        recovered: () => this.#health.recover('journal'),
      }),
    );
    const { sequence, entries } = journal.load();
    store.replace(entries, sequence, this.#clock.now());
    batch.rewind();
    this.#log.info({ path: journal.path, sequence, keys: entries.length }, 'journal loaded');
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

  /** A client's update: dropped if sequenced before (by us or the active), else the role's. */
  #onCollector(message: Message): void {
    let update: KvMsg;
    try {
      update = decodeClientUpdate(message);
      if (isReservedKey(update.key)) throw new ProtocolError(`KVSET of the reserved key ${update.key}`);
    } catch (err) {
      this.#bad(err, 'collector');
      return;
    }
    // A late copy replayed on failover would bring back a value that newer writes replaced.
    if (this.#ctx.sequenced.has(update)) {
      this.#stats.duplicates += 1; // sequenced already (a handed-over update, or a resend)
      return;
    }
    this.#role.update(update);
  }

  /** The active role, when this server has it. */
  get #active(): ActiveRole | undefined {
    return this.#role instanceof ActiveRole ? this.#role : undefined;
  }

  #setRole(role: ServerRole): void {
    const from = this.#role.name;
    this.#role = role;
    if (from !== role.name) this.emit({ type: 'role', from, to: role.name });
  }

  #becomeActive(): void {
    const was = this.#role;
    was.flush(); // a passive commits what it replicated
    const active = new ActiveRole(this.#ctx, () => this.#pair?.splitBrain.frozen === true);
    this.#setRole(active);
    void was.leave();
    this.#pair?.splitBrain.becameActive();
    const replayed = active.replay();
    this.#log.info({ from: was.name, replayed, sequence: this.sequence }, 'clone server active');
  }

  #becomePassive(): void {
    const pair = this.#pair;
    if (pair === undefined) return;
    const was = this.#role;
    this.#ctx.batch.clear(); // staged, never published: nobody saw those sequence numbers
    const handOver = pair.splitBrain.steppedDown(() => (was instanceof ActiveRole ? was.term : []));
    const passive = new PassiveRole(this.#ctx, {
      peer: pair.peer,
      peerTtlMs: this.#o.peerTtlMs,
      pendingTtlMs: this.#o.pendingTtlMs,
      security: peerSecurity(this.#o.security),
      maxMessageBytes: this.#o.maxMessageBytes,
      handOver,
    });
    this.#setRole(passive);
    void was.leave();
    this.#log.info({ peer: this.#o.pair?.peer }, 'clone server passive, following the active');
    passive.start();
  }

  #bad(err: unknown, socket: string, peer?: Buffer): void {
    this.#stats.malformed += 1;
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

  /** Stop serving and close every socket and the journal (copes with a partial start). */
  protected override async onClose(): Promise<void> {
    for (const t of this.#timers) this.#clock.clearTimeout(t);
    this.#timers.clear();
    const leaving = this.#role.leave(); // an active commits what it staged
    await leaving;
    await this.#pair?.close();
    await this.#sockets?.close();
    this.#ctx.batch.close();
    if (this.#served) this.#log.info({ sequence: this.sequence }, 'clone server closed');
  }
}
