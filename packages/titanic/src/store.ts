/**
 * The durable store behind Titanic, as an interface: the dispatcher and the services only speak
 * to `TitanicStore`, so a server-grade store (PostgreSQL, FoundationDB, ...) can be added without
 * touching them. `SqliteStore` is the embedded default; `MemoryStore` is for tests and for the
 * book's "faster but less reliable" memory-only mode.
 *
 * The one durable primitive is `write(batch)`: it applies a batch of writes atomically and
 * resolves only once they are on stable storage. Group commit (`GroupCommitter`) sits on top and
 * turns many concurrent single writes into one batch.
 *
 * Body frames are stored as one blob in a length-prefixed encoding (see `encodeFrames`):
 *
 *   blob  = *( length:u32be  bytes[length] )      (zero frames = empty blob)
 */
import type { ComponentStatus, HealthyEvent, UnhealthyEvent } from '@zpatterns/core';
import { TitanicStoreError } from './errors.js';

/** One write in a batch. */
export type StoreWrite =
  | { readonly type: 'request'; readonly uuid: string; readonly service: Buffer; readonly body: readonly Buffer[] }
  | { readonly type: 'reply'; readonly uuid: string; readonly body: readonly Buffer[] }
  | { readonly type: 'close'; readonly uuid: string };

/** What the store knows about one UUID (the three answers of `titanic.reply`). */
export type StoredState =
  | { readonly state: 'replied'; readonly body: Buffer[] }
  | { readonly state: 'pending' }
  | { readonly state: 'unknown' };

/** A stored request, as the dispatcher forwards it. */
export interface StoredRequest {
  /** The request's UUID (32 upper-case hexadecimal characters). */
  readonly uuid: string;
  /** The service the request is for. */
  readonly service: Buffer;
  /** The request body frames, as the client submitted them. */
  readonly body: Buffer[];
}

/** A pending request as listed for recovery: enough to queue it, the body is read at dispatch. */
export interface PendingRef {
  /** The request's UUID. */
  readonly uuid: string;
  /** The service the request is for. */
  readonly service: Buffer;
}

/** A store's counters; `store.stats` is a snapshot of them. */
export interface StoreStats {
  /** Batches committed (each one fsync for a durable store). */
  commits: number;
  /** Writes applied, all types. */
  writes: number;
  /** Request writes applied (submissions stored). */
  requests: number;
  /** Reply writes applied (replies of services recorded). */
  replies: number;
  /** Close writes applied (`titanic.close`). */
  closes: number;
  /** Largest batch committed so far. */
  largestBatch: number;
}

/** Row counts, for sizing and monitoring. */
export interface StoreCounts {
  /** Requests stored and not yet answered by their service. */
  pending: number;
  /** Requests whose reply is stored and that no client has closed yet. */
  replied: number;
}

/**
 * The status events of a store, beside `started` and `closed`: `unhealthy` when it can no longer
 * reach its storage (a full disk, a database that is down), with the `reason` (`'commit failed'`,
 * `'database unreachable'`) and the `error`; `healthy` when it can again. Every `unhealthy` is
 * followed by `healthy` when the store recovers.
 */
export type TitanicStoreStatus = UnhealthyEvent | HealthyEvent;

/**
 * The durable store behind Titanic. `write(batch)` applies a batch atomically and resolves only
 * once it is on stable storage; `SqliteStore`, `PostgresStore` and `MemoryStore` implement it.
 */
export interface TitanicStore {
  /**
   * Open the storage (idempotent: `TitanicServer.start()` calls it, and a store the caller already
   * started is fine). The built-in stores are `Component`s, so this is `Component.start()`.
   */
  start(): Promise<void>;
  /**
   * Apply `batch` in order, atomically, and resolve once it is durable. A reply for a UUID that
   * is unknown or already replied is ignored; closing an unknown UUID is a no-op.
   */
  write(batch: readonly StoreWrite[]): Promise<void>;
  /**
   * Optional, for a store that commits synchronously (`SqliteStore`, `MemoryStore`): `write` done
   * at once, throwing what `write` would reject with. The group commit then commits its batch in
   * the same call, with no promise per batch.
   */
  writeNow?(batch: readonly StoreWrite[]): void;
  /**
   * True when a commit costs nothing (`MemoryStore`): batching writes saves nothing, so with
   * `writeNow` Titanic writes each at once and answers a submission or a close in the same turn.
   */
  readonly commitIsFree?: boolean;
  /** The state of `uuid` as of the last completed `write`. */
  get(uuid: string): Promise<StoredState>;
  /**
   * Optional, for a store that reads synchronously (`SqliteStore`, `MemoryStore`): `get`, answered
   * at once (throwing what `get` would reject with), so that `titanic.reply` is answered in the
   * same turn.
   */
  getNow?(uuid: string): StoredState;
  /** The request body of a pending `uuid`; `undefined` once replied or closed. */
  getRequest(uuid: string): Promise<StoredRequest | undefined>;
  /** Every request without a reply, oldest first (recovery after a restart). */
  pending(): AsyncIterable<PendingRef>;
  /** How many stored requests are pending and how many replied (not yet closed). */
  counts(): Promise<StoreCounts>;
  /**
   * Delete requests whose reply was recorded before `repliedBeforeMs` (wall-clock epoch ms) and
   * that no client closed: the retention limit that keeps abandoned replies from piling up.
   * Resolves with the number deleted.
   */
  expireReplies(repliedBeforeMs: number): Promise<number>;
  /** A snapshot of the store's counters; read it again for fresh figures. */
  readonly stats: StoreStats;
  /**
   * False while the store cannot reach its storage (a server-grade store whose database is down);
   * absent or true otherwise. Feeds `/healthz`.
   */
  readonly healthy?: boolean | undefined;
  /**
   * The store's health changes (optional for stores of your own): `TitanicServer` relays them on
   * its own status feed.
   */
  status?(): AsyncIterable<TitanicStoreStatus | ComponentStatus>;
  /** Release the store (idempotent). Later calls reject with `ClosedError`. */
  close(): Promise<void>;
}

/** Pending requests of one service, for operators (`titanic pending`). */
export interface ServicePending {
  /** The service the requests are for. */
  readonly service: Buffer;
  /** How many requests of it are pending. */
  readonly count: number;
  /** When the oldest of them was stored (wall-clock epoch ms). */
  readonly oldestMs: number;
  /** When the newest of them was stored (wall-clock epoch ms). */
  readonly newestMs: number;
}

/** Requests of one service by state, for a status page (`statusByService()` of the durable stores). */
export interface ServiceCounts {
  /** The service (latin1). */
  readonly service: string;
  /** Stored and not yet answered. */
  readonly pending: number;
  /** Answered, the reply stored and not yet closed by the client. */
  readonly done: number;
  /** When the oldest pending request was stored (wall-clock epoch ms); `null` with none pending. */
  readonly oldestPendingMs: number | null;
}

/** What the operator commands need from a durable store (SQLite and PostgreSQL have it). */
export interface StoreAdmin {
  /** Pending requests by service, most first. */
  pendingByService(): Promise<ServicePending[]>;
  /** Delete every pending request of `service`; resolves with the UUIDs removed, oldest first. */
  purgeService(service: Buffer): Promise<string[]>;
}

/**
 * The extra capability of a store shared by several Titanic instances (PostgreSQL): dispatch
 * leases. A pending request is dispatched only by the instance that holds its lease; a lease that
 * is not renewed expires and the request can be claimed again (its holder died).
 *
 * Lease deadlines are kept by the store (the database clock), so instances need not agree on the
 * time; each instance also tracks a conservative local deadline (see the dispatcher).
 */
export interface LeaseStore {
  /**
   * Claim up to `limit` pending requests that nobody holds (or whose lease expired) for
   * `instance` until `leaseMs` from now, with their bodies; none for the services in `exclude`
   * (their circuit is open on this instance). Fair across services: the services this instance
   * holds fewest requests of (`held`, by service as latin1) first, the oldest of each first.
   */
  claim(
    instance: string,
    leaseMs: number,
    limit: number,
    exclude?: readonly Buffer[],
    held?: ReadonlyMap<string, number>,
  ): Promise<StoredRequest[]>;
  /** Extend the leases `instance` still holds among `uuids`; resolves with those it still holds. */
  renew(instance: string, uuids: readonly string[], leaseMs: number): Promise<string[]>;
  /**
   * Give up `instance`'s leases on `uuids`: claimable again after `delayMs` (0: at once), by any
   * instance. The shared form of a retry backoff.
   */
  release(instance: string, uuids: readonly string[], delayMs: number): Promise<void>;
  /** Requests without a reply, store-wide (cheap: the pending index only). For the backlog bound. */
  countPending(): Promise<number>;
  /** Requests without a reply by service (the service as latin1), for the per-service bound. */
  countPendingByService?(): Promise<Map<string, number>>;
}

/** The store's lease capability, when it has one (PostgreSQL); undefined for SQLite and memory. */
export function leasesOf(store: TitanicStore): LeaseStore | undefined {
  const s = store as Partial<LeaseStore>;
  return typeof s.claim === 'function' &&
    typeof s.renew === 'function' &&
    typeof s.release === 'function' &&
    typeof s.countPending === 'function'
    ? (store as TitanicStore & LeaseStore)
    : undefined;
}

/** Fresh zero counters of a store. */
export function newStoreStats(): StoreStats {
  return { commits: 0, writes: 0, requests: 0, replies: 0, closes: 0, largestBatch: 0 };
}

/** Count one committed batch into `stats`. */
export function countBatch(stats: StoreStats, batch: readonly StoreWrite[]): void {
  stats.commits++;
  stats.writes += batch.length;
  stats.largestBatch = Math.max(stats.largestBatch, batch.length);
  for (const write of batch) {
    if (write.type === 'request') stats.requests++;
    else if (write.type === 'reply') stats.replies++;
    else stats.closes++;
  }
}

/** Encode frames as `*(u32be length, bytes)`. */
export function encodeFrames(frames: readonly Uint8Array[]): Buffer {
  let size = 0;
  for (const f of frames) size += 4 + f.length;
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const f of frames) {
    out.writeUInt32BE(f.length, at);
    out.set(f, at + 4);
    at += 4 + f.length;
  }
  return out;
}

/** Decode `encodeFrames` output. Throws `TitanicStoreError` on a truncated or corrupt blob. */
export function decodeFrames(blob: Uint8Array): Buffer[] {
  const buf = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  const frames: Buffer[] = [];
  let at = 0;
  while (at < buf.length) {
    if (at + 4 > buf.length) throw new TitanicStoreError('corrupt frame blob: truncated length');
    const length = buf.readUInt32BE(at);
    if (at + 4 + length > buf.length) throw new TitanicStoreError('corrupt frame blob: truncated frame');
    // Copy, so a frame does not pin the whole blob (and the store's buffer) in memory.
    frames.push(Buffer.from(buf.subarray(at + 4, at + 4 + length)));
    at += 4 + length;
  }
  return frames;
}
