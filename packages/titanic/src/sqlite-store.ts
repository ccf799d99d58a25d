/**
 * The embedded durable store: one SQLite database in WAL mode with `synchronous = FULL`, so every
 * COMMIT is fsync'd before `write()` resolves. One transaction per batch: with group commit on
 * top, N concurrent requests cost one fsync.
 *
 * Layout (`<dataDir>/titanic.sqlite`, plus `-wal` while open):
 *
 *   requests(seq INTEGER PRIMARY KEY,      arrival order (rowid)
 *            uuid TEXT UNIQUE,             32 upper-case hex characters
 *            service BLOB, body BLOB,      body: length-prefixed frames; emptied once replied
 *            reply BLOB,                   NULL while pending
 *            created_ms, replied_ms)
 *   partial index on seq WHERE reply IS NULL: recovery reads pending requests in order without
 *   scanning replied ones; partial index on replied_ms WHERE reply IS NOT NULL: the retention
 *   sweep deletes abandoned replies without a scan.
 *
 * The database is opened with `locking_mode = EXCLUSIVE`, so a second Titanic process on the same
 * data directory fails at start instead of corrupting the other's view. The OS releases the lock
 * when a process dies, even by SIGKILL.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Component, InvalidArgumentError, toError } from '@zpatterns/core';
import { TitanicStoreError } from './errors.js';
import {
  countBatch,
  decodeFrames,
  encodeFrames,
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

const SCHEMA_VERSION = 1;

/** Options of `new SqliteStore(options)`; `sqliteStoreDefaults` holds the defaults. */
export interface SqliteStoreOptions {
  /** Directory of the database; created if missing. */
  dataDir: string;
  /**
   * fsync every commit (`synchronous = FULL`). Turning it off (`NORMAL`) keeps the database
   * consistent but may lose the last commits on power loss, which breaks the meaning of "200".
   * @default true
   */
  fsync?: boolean;
  /** Rows read per page during recovery. @default 1000 */
  recoveryPageSize?: number;
  /**
   * After a commit failed (a full or read-only disk), try a one-page write this often until one
   * succeeds, so that `healthy` turns true again without waiting for traffic. @default 1000
   */
  healthProbeMs?: number;
  /**
   * Rows deleted per transaction by `expireReplies`; the event loop runs between two of them, so
   * a sweep of many replies never holds the process up for long. @default 1000
   */
  expireBatchSize?: number;
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

interface Statements {
  readonly insert: Database.Statement<[string, Buffer, Buffer, number]>;
  readonly reply: Database.Statement<[Buffer, number, string]>;
  readonly delete: Database.Statement<[string]>;
  readonly get: Database.Statement<[string], { reply: Buffer | null }>;
  readonly getRequest: Database.Statement<[string], { service: Buffer; body: Buffer; reply: Buffer | null }>;
  readonly pendingPage: Database.Statement<[number, number], { seq: number; uuid: string; service: Buffer }>;
  readonly counts: Database.Statement<[], { pending: number | null; replied: number | null }>;
  readonly expire: Database.Statement<[number, number]>;
  readonly apply: (batch: readonly StoreWrite[]) => void;
}

/**
 * The embedded durable store: one SQLite database in `dataDir`, every commit fsync'd. `new
 * SqliteStore({ dataDir })` validates and opens nothing; `start()` (which `TitanicServer.start()`
 * calls) creates the directory, opens the database with an exclusive lock and creates or checks
 * the schema, and is ready then. It rejects with `TitanicStoreError` when the database cannot be
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
  #db: Database.Database | undefined;
  #st: Statements | undefined;
  #healthy = true;
  #probeTimer: NodeJS.Timeout | undefined;

  constructor(options: SqliteStoreOptions) {
    super();
    if (typeof options?.dataDir !== 'string' || options.dataDir === '')
      throw new InvalidArgumentError('dataDir: a directory is required');
    this.#dataDir = options.dataDir;
    this.#fsync = options.fsync ?? sqliteStoreDefaults.fsync;
    this.#pageSize = options.recoveryPageSize ?? sqliteStoreDefaults.recoveryPageSize;
    this.#healthProbeMs = options.healthProbeMs ?? sqliteStoreDefaults.healthProbeMs;
    this.#expireBatchSize = options.expireBatchSize ?? sqliteStoreDefaults.expireBatchSize;
    if (!(this.#expireBatchSize >= 1)) throw new InvalidArgumentError('expireBatchSize: expected a number >= 1');
    if (!(this.#pageSize >= 1)) throw new InvalidArgumentError('recoveryPageSize: expected a number >= 1');
    if (!(this.#healthProbeMs >= 1)) throw new InvalidArgumentError('healthProbeMs: expected a number >= 1');
    this.path = join(options.dataDir, SQLITE_FILE);
  }

  /** Opens (creating if needed) the database and its schema. */
  protected async onStart(): Promise<void> {
    let db: Database.Database | undefined;
    try {
      // Owner only: the store holds request bodies, replies and their UUIDs (bearer tokens).
      mkdirSync(this.#dataDir, { recursive: true, mode: 0o700 });
      db = new Database(this.path, { timeout: 0 });
      db.pragma('locking_mode = EXCLUSIVE');
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${this.#fsync ? 'FULL' : 'NORMAL'}`);
      const version = db.pragma('user_version', { simple: true }) as number;
      if (version > SCHEMA_VERSION) {
        throw new TitanicStoreError(`${this.path} has schema version ${version}; this Titanic knows ${SCHEMA_VERSION}`);
      }
      db.exec(`
        CREATE TABLE IF NOT EXISTS requests (
          seq INTEGER PRIMARY KEY,
          uuid TEXT NOT NULL UNIQUE,
          service BLOB NOT NULL,
          body BLOB NOT NULL,
          reply BLOB,
          created_ms INTEGER NOT NULL,
          replied_ms INTEGER
        );
        CREATE INDEX IF NOT EXISTS requests_pending ON requests (seq) WHERE reply IS NULL;
        CREATE INDEX IF NOT EXISTS requests_replied ON requests (replied_ms) WHERE reply IS NOT NULL;
        PRAGMA user_version = ${SCHEMA_VERSION};
      `);
    } catch (err) {
      db?.close();
      throw new TitanicStoreError(`cannot open the Titanic store at ${this.path}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    this.#db = db;
    const insert = db.prepare<[string, Buffer, Buffer, number]>(
      'INSERT OR IGNORE INTO requests (uuid, service, body, created_ms) VALUES (?, ?, ?, ?)',
    );
    const reply = db.prepare<[Buffer, number, string]>(
      "UPDATE requests SET reply = ?, body = x'', replied_ms = ? WHERE uuid = ? AND reply IS NULL",
    );
    const remove = db.prepare<[string]>('DELETE FROM requests WHERE uuid = ?');
    this.#st = {
      insert,
      reply,
      delete: remove,
      get: db.prepare('SELECT reply FROM requests WHERE uuid = ?'),
      getRequest: db.prepare('SELECT service, body, reply FROM requests WHERE uuid = ?'),
      pendingPage: db.prepare(
        'SELECT seq, uuid, service FROM requests WHERE reply IS NULL AND seq > ? ORDER BY seq LIMIT ?',
      ),
      counts: db.prepare('SELECT SUM(reply IS NULL) AS pending, SUM(reply IS NOT NULL) AS replied FROM requests'),
      expire: db.prepare(
        `DELETE FROM requests WHERE seq IN
           (SELECT seq FROM requests WHERE reply IS NOT NULL AND replied_ms < ? LIMIT ?)`,
      ),
      apply: db.transaction((batch: readonly StoreWrite[]) => {
        const now = Date.now();
        for (const w of batch) {
          switch (w.type) {
            case 'request':
              insert.run(w.uuid, w.service, encodeFrames(w.body), now);
              break;
            case 'reply':
              reply.run(encodeFrames(w.body), now, w.uuid);
              break;
            case 'close':
              remove.run(w.uuid);
              break;
          }
        }
      }),
    };
  }

  /** A snapshot of the counters; read it again for fresh figures. */
  get stats(): StoreStats {
    return { ...this.#stats };
  }

  /** The prepared statements of a running store; throws `NotStartedError` / `ClosedError` otherwise. */
  #s(): Statements {
    this.assertRunning();
    if (this.#st === undefined) throw new TitanicStoreError('store is not open');
    return this.#st;
  }

  #database(): Database.Database {
    this.assertRunning();
    if (this.#db === undefined) throw new TitanicStoreError('store is not open');
    return this.#db;
  }

  /** Applies `batch` in one transaction; resolves once it is fsync'd. */
  async write(batch: readonly StoreWrite[]): Promise<void> {
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
    if (this.#healthy) this.emit({ type: 'unhealthy', error: toError(err) });
    this.#healthy = false;
    if (this.#probeTimer !== undefined || !this.running) return;
    this.#probeTimer = setInterval(() => {
      try {
        // Rewriting the schema version is a real one-page commit (with its fsync).
        this.#database().pragma(`user_version = ${SCHEMA_VERSION}`);
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
    const rows = this.#database()
      .prepare<[], { service: Buffer; n: number; oldest: number; newest: number }>(
        `SELECT service, count(*) AS n, min(created_ms) AS oldest, max(created_ms) AS newest
         FROM requests WHERE reply IS NULL GROUP BY service ORDER BY n DESC, service`,
      )
      .all();
    return rows.map((r) => ({ service: r.service, count: r.n, oldestMs: r.oldest, newestMs: r.newest }));
  }

  /** Pending and done requests by service (for a status page). */
  async statusByService(): Promise<ServiceCounts[]> {
    const rows = this.#database()
      .prepare<[], { service: Buffer; pending: number; done: number; oldest: number | null }>(
        `SELECT service, count(*) FILTER (WHERE reply IS NULL) AS pending, count(*) FILTER (WHERE reply IS NOT NULL) AS done,
                min(CASE WHEN reply IS NULL THEN created_ms END) AS oldest
         FROM requests GROUP BY service ORDER BY service`,
      )
      .all();
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
    const select = db.prepare<[Buffer], { uuid: string }>(
      'SELECT uuid FROM requests WHERE reply IS NULL AND service = ? ORDER BY seq',
    );
    const remove = db.prepare('DELETE FROM requests WHERE reply IS NULL AND service = ?');
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
