/**
 * The embedded durable store: one SQLite database in WAL mode with `synchronous = FULL`, so every
 * COMMIT is fsync'd before `write()` resolves. One transaction per batch: with group commit on
 * top, N concurrent requests cost one fsync. The database (`<dataDir>/titanic.sqlite`, plus `-wal`
 * while open) and its schema are in sqlite-schema.ts; the driver, `better-sqlite3`, is loaded at
 * `start()` (an optional peer dependency).
 */
import { join } from 'node:path';
import { Component, invalidOption, resolveOptions, rules, toError } from '@zpatterns/core';
import { TitanicStoreError } from './errors.js';
import { loadSqlite, prepare, type SqliteDatabase } from './sqlite-driver.js';
import { openSqlite, prepareStatements, SQLITE_SCHEMA_VERSION, type SqliteStatements } from './sqlite-schema.js';
import {
  countBatch,
  decodeFrames,
  newStoreStats,
  type PendingRef,
  type ServiceCounts,
  type ServicePending,
  type StoreAdmin,
  type StoreCounts,
  type StoredRequest,
  type StoredState,
  type StoreStats,
  type StoreWrite,
  type TitanicStore,
  type TitanicStoreStatus,
} from './store.js';

/** Name of the database file inside the data directory. */
export const SQLITE_FILE = 'titanic.sqlite';

/** Options of `new SqliteStore(options)`; `sqliteStoreDefaults` holds the defaults. */
export interface SqliteStoreOptions {
  /** Directory of the database; created if missing. */
  dataDir: string;
  /**
   * fsync every commit (`synchronous = FULL`). Turning it off (`NORMAL`) keeps the database
   * consistent but may lose the last commits on power loss, which breaks the meaning of "200".
   * @default true
   */
  fsync?: boolean | undefined;
  /** Rows read per page during recovery. @default 1000 */
  recoveryPageSize?: number | undefined;
  /**
   * After a commit failed (a full or read-only disk), try a one-page write this often until one
   * succeeds, so that `healthy` turns true again without waiting for traffic. @default 1000
   */
  healthProbeMs?: number | undefined;
  /**
   * Rows deleted per transaction by `expireReplies`; the event loop runs between two of them, so
   * a sweep of many replies never holds the process up for long. @default 1000
   */
  expireBatchSize?: number | undefined;
}

/** What `SqliteStore.settings()` reports: the SQLite settings in force. */
export interface SqliteSettings {
  /** `journal_mode`: `wal`. */
  journalMode: string;
  /** `synchronous`: 2 (`FULL`) with `fsync`, 1 (`NORMAL`) without. */
  synchronous: number;
  /** `locking_mode`: `exclusive`. */
  lockingMode: string;
}

/** The SQLite store's defaults: fsync every commit, recover pending requests 1000 at a time. */
export const sqliteStoreDefaults = {
  fsync: true,
  recoveryPageSize: 1000,
  healthProbeMs: 1000,
  expireBatchSize: 1000,
} as const satisfies Omit<Required<SqliteStoreOptions>, 'dataDir'>;

/**
 * The embedded durable store: one SQLite database in `dataDir`, every commit fsync'd. `new
 * SqliteStore({ dataDir })` validates and opens nothing; `start()` (which `TitanicServer.start()`
 * calls) loads `better-sqlite3`, creates the directory, opens the database with an exclusive lock
 * and creates or checks the schema, and is ready then. It rejects with `InvalidStateError` when
 * `better-sqlite3` is not installed, and with `TitanicStoreError` when the database cannot be
 * opened (locked by another process, newer schema, unreadable file). The status feed reports
 * `unhealthy` after a failed commit and `healthy` after the next success.
 */
export class SqliteStore extends Component<TitanicStoreStatus> implements TitanicStore, StoreAdmin {
  readonly #stats: StoreStats = newStoreStats();
  /** Absolute or relative path of the database file. */
  readonly path: string;
  readonly #dataDir: string;
  readonly #fsync: boolean;
  readonly #pageSize: number;
  readonly #healthProbeMs: number;
  readonly #expireBatchSize: number;
  #db: SqliteDatabase | undefined;
  #st: SqliteStatements | undefined;
  #healthy = true;
  #probeTimer: NodeJS.Timeout | undefined;

  constructor(options: SqliteStoreOptions) {
    super();
    const dataDir = options?.dataDir;
    if (typeof dataDir !== 'string' || dataDir === '')
      throw invalidOption('SqliteStore', 'dataDir', 'a directory', dataDir);
    const o = resolveOptions('SqliteStore', options, sqliteStoreDefaults, {
      fsync: rules.boolean,
      recoveryPageSize: rules.positiveInteger,
      healthProbeMs: rules.positive,
      expireBatchSize: rules.positiveInteger,
    });
    this.#dataDir = dataDir;
    this.#fsync = o.fsync;
    this.#pageSize = o.recoveryPageSize;
    this.#healthProbeMs = o.healthProbeMs;
    this.#expireBatchSize = o.expireBatchSize;
    this.path = join(dataDir, SQLITE_FILE);
  }

  /** Loads the driver, opens (creating if needed) the database and its schema. */
  protected async onStart(): Promise<void> {
    const Database = await loadSqlite();
    const db = openSqlite(Database, this.#dataDir, this.path, this.#fsync);
    this.#db = db;
    this.#st = prepareStatements(db);
  }

  /** A snapshot of the counters; read it again for fresh figures. */
  get stats(): StoreStats {
    return { ...this.#stats };
  }

  /** The prepared statements of a running store; throws `NotStartedError` / `ClosedError` otherwise. */
  #s(): SqliteStatements {
    this.assertRunning();
    if (this.#st === undefined) throw new TitanicStoreError('store is not open');
    return this.#st;
  }

  #database(): SqliteDatabase {
    this.assertRunning();
    if (this.#db === undefined) throw new TitanicStoreError('store is not open');
    return this.#db;
  }

  /** Applies `batch` in one transaction; resolves once it is fsync'd. */
  async write(batch: readonly StoreWrite[]): Promise<void> {
    this.writeNow(batch);
  }

  /** `write`, synchronously (the driver commits, fsync included, before it returns). */
  writeNow(batch: readonly StoreWrite[]): void {
    const st = this.#s();
    if (batch.length === 0) return;
    try {
      st.apply(batch);
    } catch (err) {
      this.#commitFailed(err);
      throw new TitanicStoreError(`commit of ${batch.length} writes failed: ${(err as Error).message}`, { cause: err });
    }
    this.#commitSucceeded();
    countBatch(this.#stats, batch);
  }

  /**
   * False from a failed commit (full or read-only disk, I/O error) until the next one succeeds:
   * a write of this store's own, or the probe that runs every `healthProbeMs` meanwhile.
   */
  get healthy(): boolean {
    return this.#healthy && this.running;
  }

  #commitFailed(err: unknown): void {
    if (this.#healthy) this.emit({ type: 'unhealthy', reason: 'commit failed', error: toError(err) });
    this.#healthy = false;
    if (this.#probeTimer !== undefined || !this.running) return;
    this.#probeTimer = setInterval(() => {
      try {
        // Rewriting the schema version is a real one-page commit (with its fsync).
        this.#database().pragma(`user_version = ${SQLITE_SCHEMA_VERSION}`);
        this.#commitSucceeded();
      } catch {
        // Still failing: the next tick tries again.
      }
    }, this.#healthProbeMs);
    this.#probeTimer.unref();
  }

  #commitSucceeded(): void {
    if (!this.#healthy) this.emit({ type: 'healthy' });
    this.#healthy = true;
    if (this.#probeTimer === undefined) return;
    clearInterval(this.#probeTimer);
    this.#probeTimer = undefined;
  }

  /** The state of `uuid`: replied (with the body), pending or unknown. */
  async get(uuid: string): Promise<StoredState> {
    return this.getNow(uuid);
  }

  /** `get`, at once (SQLite reads synchronously). */
  getNow(uuid: string): StoredState {
    const row = this.#s().get.get(uuid);
    if (row === undefined) return { state: 'unknown' };
    return row.reply === null ? { state: 'pending' } : { state: 'replied', body: decodeFrames(row.reply) };
  }

  /** The request of a pending `uuid`; `undefined` once replied or closed. */
  async getRequest(uuid: string): Promise<StoredRequest | undefined> {
    const row = this.#s().getRequest.get(uuid);
    if (row === undefined || row.reply !== null) return undefined;
    return { uuid, service: row.service, body: decodeFrames(row.body) };
  }

  /** Every request without a reply, oldest first, read `recoveryPageSize` rows at a time. */
  async *pending(): AsyncIterable<PendingRef> {
    let after = 0;
    for (;;) {
      const page = this.#s().pendingPage.all(after, this.#pageSize);
      for (const row of page) yield { uuid: row.uuid, service: row.service };
      const last = page.at(-1);
      if (last === undefined || page.length < this.#pageSize) return;
      after = last.seq;
    }
  }

  /** How many stored requests are pending and how many replied (not yet closed). */
  async counts(): Promise<StoreCounts> {
    const row = this.#s().counts.get();
    return { pending: row?.pending ?? 0, replied: row?.replied ?? 0 };
  }

  /**
   * Deletes in transactions of `expireBatchSize` rows and yields to the event loop between two
   * of them (so heartbeats and submissions go on during a sweep of many replies).
   */
  async expireReplies(repliedBeforeMs: number): Promise<number> {
    const st = this.#s();
    let deleted = 0;
    for (;;) {
      let changes: number;
      try {
        changes = st.expire.run(repliedBeforeMs, this.#expireBatchSize).changes;
      } catch (err) {
        this.#commitFailed(err);
        throw err;
      }
      this.#commitSucceeded();
      deleted += changes;
      if (changes < this.#expireBatchSize) return deleted;
      await new Promise<void>((resolve) => setImmediate(resolve));
      // Closed meanwhile (shutdown): the rest is left for the next run.
      if (!this.running) return deleted;
    }
  }

  /** Pending requests by service, most first (`titanic pending`). */
  async pendingByService(): Promise<ServicePending[]> {
    const rows = prepare<[], { service: Buffer; n: number; oldest: number; newest: number }>(
      this.#database(),
      `SELECT service, count(*) AS n, min(created_ms) AS oldest, max(created_ms) AS newest
       FROM requests WHERE reply IS NULL GROUP BY service ORDER BY n DESC, service`,
    ).all();
    return rows.map((r) => ({ service: r.service, count: r.n, oldestMs: r.oldest, newestMs: r.newest }));
  }

  /** Pending and done requests by service (for a status page). */
  async statusByService(): Promise<ServiceCounts[]> {
    const rows = prepare<[], { service: Buffer; pending: number; done: number; oldest: number | null }>(
      this.#database(),
      `SELECT service, count(*) FILTER (WHERE reply IS NULL) AS pending, count(*) FILTER (WHERE reply IS NOT NULL) AS done,
              min(CASE WHEN reply IS NULL THEN created_ms END) AS oldest
       FROM requests GROUP BY service ORDER BY service`,
    ).all();
    return rows.map((r) => ({
      service: r.service.toString('latin1'),
      pending: r.pending,
      done: r.done,
      oldestPendingMs: r.oldest,
    }));
  }

  /** Deletes every pending request of `service`; resolves with their UUIDs, oldest first. */
  async purgeService(service: Buffer): Promise<string[]> {
    const db = this.#database();
    const select = prepare<[Buffer], { uuid: string }>(
      db,
      'SELECT uuid FROM requests WHERE reply IS NULL AND service = ? ORDER BY seq',
    );
    const remove = prepare<[Buffer]>(db, 'DELETE FROM requests WHERE reply IS NULL AND service = ?');
    return db.transaction(() => {
      const uuids = select.all(service).map((r) => r.uuid);
      remove.run(service);
      return uuids;
    })();
  }

  /** The SQLite settings in force (for tests and the startup log line). */
  settings(): SqliteSettings {
    const db = this.#database();
    return {
      journalMode: db.pragma('journal_mode', { simple: true }) as string,
      synchronous: db.pragma('synchronous', { simple: true }) as number,
      lockingMode: db.pragma('locking_mode', { simple: true }) as string,
    };
  }

  /** Checkpoints the WAL into the database file and closes it. */
  protected async onClose(): Promise<void> {
    if (this.#probeTimer !== undefined) clearInterval(this.#probeTimer);
    this.#probeTimer = undefined;
    const db = this.#db;
    this.#db = undefined;
    this.#st = undefined;
    if (db === undefined) return;
    try {
      db.pragma('wal_checkpoint(TRUNCATE)');
    } finally {
      db.close();
    }
  }
}
