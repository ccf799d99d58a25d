/**
 * The server-grade store: PostgreSQL through node-postgres, for deployments that keep their
 * requests on the database they already operate (replicated, backed up) and that run several
 * Titanic instances on one queue.
 *
 * Same promise as `SqliteStore`: `write(batch)` is one transaction and resolves only after
 * COMMIT returned, so with PostgreSQL's defaults (`fsync = on`, `synchronous_commit = on`) it is
 * on disk. Group commit (`GroupCommitter`) on top makes N concurrent submissions one transaction.
 *
 * The parts, one module each: the driver (`pg`, an optional peer dependency loaded at `start()`),
 * the schema and its migrations, the pool and the database's health, batched writes, dispatch
 * leases and the retention sweep.
 */
import {
  Component,
  exponentialBackoff,
  invalidOption,
  resolveOptions,
  rules,
  type Logger,
  type OptionRule,
  type ResolvedOptions,
  type RetryDelay,
} from '@zpatterns/core';
import { componentLogger } from '@zpatterns/core/internal';
import { TitanicStoreError } from './errors.js';
import {
  pendingByService,
  purgeService,
  sessionSettings,
  statusByService,
  type PostgresSettings,
} from './postgres-admin.js';
import { loadPg } from './postgres-driver.js';
import { PostgresLeases } from './postgres-leases.js';
import { PostgresPool } from './postgres-pool.js';
import { migrate, requestsTable, SCHEMA_NAME } from './postgres-schema.js';
import { sweepReplies } from './postgres-sweep.js';
import { applyBatch, runStatement } from './postgres-writes.js';
import {
  countBatch,
  decodeFrames,
  newStoreStats,
  type LeaseStore,
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

export { POSTGRES_SCHEMA_VERSION } from './postgres-schema.js';
export type { PostgresSettings } from './postgres-admin.js';

/** Options of `new PostgresStore(options)`; `postgresStoreDefaults` holds the defaults. */
export interface PostgresStoreOptions {
  /** Connection URL, e.g. `postgres://titanic@db.example/titanic`. */
  url: string;
  /** Schema holding Titanic's tables (created if missing). @default 'public' */
  schema?: string | undefined;
  /** Upper bound of the connection pool. @default 10 */
  maxConnections?: number | undefined;
  /** Give up connecting after this long (the submission then fails: a 500, never a false 200). @default 5000 */
  connectTimeoutMs?: number | undefined;
  /**
   * How long one query may go unanswered before it fails (the connection is then discarded): the
   * bound on noticing a database that stopped answering without closing the connection (a network
   * partition, a failover of its host), where TCP alone would take minutes. The same value is the
   * sessions' `statement_timeout`, so the server gives up on the statement too. @default 5000
   */
  queryTimeoutMs?: number | undefined;
  /**
   * `idle_in_transaction_session_timeout` of the sessions: the server ends a session left idle
   * inside a transaction this long (an instance frozen mid-commit), releasing its row locks.
   * @default 10000
   */
  idleInTransactionTimeoutMs?: number | undefined;
  /** TCP keep-alive on the connections, first probe after this long idle. @default 10000 */
  keepAliveMs?: number | undefined;
  /** Rows read per page during recovery. @default 1000 */
  recoveryPageSize?: number | undefined;
  /** Rows deleted per transaction by the retention sweep (`expireReplies`). @default 5000 */
  expireBatchSize?: number | undefined;
  /** `application_name` of the connections, as `pg_stat_activity` shows it. @default 'titanic' */
  applicationName?: string | undefined;
  /**
   * Delay before the `n`-th health probe (`SELECT 1`) while the database is unreachable; the first
   * success marks the store healthy again. Queries are never held back meanwhile: each one tries
   * a fresh connection and fails fast. @default exponential 100 ms .. 5 s, jitter 0.2
   */
  reconnectDelay?: RetryDelay | undefined;
  /** Parent logger. @default silent */
  logger?: Logger | undefined;
}

/** The PostgreSQL store's defaults: schema `public`, 10 connections; see `PostgresStoreOptions`. */
export const postgresStoreDefaults = {
  schema: 'public',
  maxConnections: 10,
  connectTimeoutMs: 5000,
  queryTimeoutMs: 5000,
  idleInTransactionTimeoutMs: 10_000,
  keepAliveMs: 10_000,
  recoveryPageSize: 1000,
  expireBatchSize: 5000,
  applicationName: 'titanic',
  reconnectDelay: exponentialBackoff({ initialMs: 100, maxMs: 5000, factor: 2, jitter: 0.2 }),
} as const satisfies Omit<Required<PostgresStoreOptions>, 'url' | 'logger'>;

type Resolved = ResolvedOptions<PostgresStoreOptions, typeof postgresStoreDefaults>;

/** A timeout PostgreSQL takes in whole milliseconds, where 0 would mean none. */
const atLeastOne: OptionRule = {
  must: 'a finite number >= 1',
  test: (v) => typeof v === 'number' && Number.isFinite(v) && v >= 1,
};

/**
 * The PostgreSQL store. `new PostgresStore({ url })` validates the options and opens nothing;
 * `start()` (which `TitanicServer.start()` calls) loads `pg`, connects, creates or migrates the
 * schema and is ready then; it rejects with `InvalidStateError` when `pg` is not installed, and
 * with `TitanicStoreError` when the database cannot be reached or is newer than this code.
 * `await PostgresStore.start({ url })` does both. The status feed reports `unhealthy` when the
 * database stops answering and `healthy` when a query or the background probe reaches it again.
 */
export class PostgresStore extends Component<TitanicStoreStatus> implements TitanicStore, LeaseStore, StoreAdmin {
  readonly #stats: StoreStats = newStoreStats();
  readonly #options: Resolved;
  readonly #url: string;
  readonly #schema: string;
  readonly #queryTimeoutMs: number;
  readonly #idleInTransactionMs: number;
  readonly #t: string;
  readonly #log: Logger;
  readonly #leases: PostgresLeases;
  #pool: PostgresPool | undefined;

  constructor(options: PostgresStoreOptions) {
    super();
    const url = options?.url;
    if (typeof url !== 'string' || url === '')
      throw invalidOption('PostgresStore', 'url', 'a PostgreSQL connection URL', url);
    const o = resolveOptions('PostgresStore', options, postgresStoreDefaults, {
      schema: {
        must: 'a lower-case SQL name ([a-z_][a-z0-9_]*, at most 63 characters)',
        test: (v) => typeof v === 'string' && SCHEMA_NAME.test(v),
      },
      maxConnections: rules.positiveInteger,
      connectTimeoutMs: rules.positive,
      queryTimeoutMs: atLeastOne,
      idleInTransactionTimeoutMs: atLeastOne,
      keepAliveMs: rules.nonNegative,
      recoveryPageSize: rules.positiveInteger,
      expireBatchSize: rules.positiveInteger,
      applicationName: { must: 'a string', test: (v) => typeof v === 'string' },
      reconnectDelay: rules.function,
    });
    this.#options = o;
    this.#url = url;
    this.#schema = o.schema;
    this.#queryTimeoutMs = Math.round(o.queryTimeoutMs);
    this.#idleInTransactionMs = Math.round(o.idleInTransactionTimeoutMs);
    this.#t = requestsTable(o.schema);
    this.#log = componentLogger(options.logger, { component: 'postgres-store', schema: o.schema });
    this.#leases = new PostgresLeases(() => this.#p(), this.#t);
  }

  /** Loads the driver, connects and creates or migrates the schema. */
  protected async onStart(): Promise<void> {
    const o = this.#options;
    const pg = await loadPg();
    const pool = new PostgresPool(pg, {
      config: {
        connectionString: this.#url,
        max: o.maxConnections,
        connectionTimeoutMillis: o.connectTimeoutMs,
        application_name: o.applicationName,
        query_timeout: this.#queryTimeoutMs,
        keepAlive: true,
        keepAliveInitialDelayMillis: o.keepAliveMs,
      },
      statementTimeoutMs: this.#queryTimeoutMs,
      idleInTransactionTimeoutMs: this.#idleInTransactionMs,
      reconnectDelay: o.reconnectDelay,
      closed: this.closeSignal,
      log: this.#log,
      onUnhealthy: (error) => this.emit({ type: 'unhealthy', reason: 'database unreachable', error }),
      onHealthy: () => this.emit({ type: 'healthy' }),
    });
    this.#pool = pool;
    try {
      await pool.transaction((client) => migrate(client, this.#schema));
    } catch (err) {
      throw new TitanicStoreError(`cannot open the Titanic store on PostgreSQL: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  /** A snapshot of the counters; read it again for fresh figures. */
  get stats(): StoreStats {
    return { ...this.#stats };
  }

  /**
   * False after a query failed for lack of the database, true again after the next success (a
   * query, or the background probe that runs with backoff meanwhile).
   */
  get healthy(): boolean {
    return (this.#pool?.healthy ?? true) && this.running;
  }

  /** The pool of a running store; throws `NotStartedError` / `ClosedError` otherwise. */
  #p(): PostgresPool {
    this.assertRunning();
    if (this.#pool === undefined) throw new TitanicStoreError('store is not open');
    return this.#pool;
  }

  /**
   * The durability settings of Titanic's sessions as the server reports them: `synchronousCommit`
   * ('on' unless a standby setting adds more), `fsync`, `synchronousStandbyNames`, and the timeouts.
   */
  async settings(): Promise<PostgresSettings> {
    return sessionSettings(this.#p());
  }

  /** Applies `batch` in one transaction; resolves once COMMIT returned. */
  async write(batch: readonly StoreWrite[]): Promise<void> {
    const pool = this.#p();
    if (batch.length === 0) return;
    try {
      if (batch.every((w) => w.type === batch[0]?.type)) {
        // One statement (`applyBatch` makes one per run of a type): atomic and durable on its own in
        // autocommit, one round trip instead of three (BEGIN, the statement, COMMIT).
        const statement = runStatement(this.#t, batch, Date.now());
        if (statement !== undefined) await pool.query(statement.sql, statement.params);
      } else {
        await pool.retryingConflicts(() =>
          pool.transaction((client) => applyBatch(client, this.#t, batch, Date.now())),
        );
      }
    } catch (err) {
      throw new TitanicStoreError(`commit of ${batch.length} writes failed: ${(err as Error).message}`, { cause: err });
    }
    countBatch(this.#stats, batch);
  }

  /** The state of `uuid`: replied (with the body), pending or unknown. */
  async get(uuid: string): Promise<StoredState> {
    const rows = await this.#p().query<{ reply: Buffer | null }>(`SELECT reply FROM ${this.#t} WHERE uuid = $1`, [
      uuid,
    ]);
    const row = rows[0];
    if (row === undefined) return { state: 'unknown' };
    return row.reply === null ? { state: 'pending' } : { state: 'replied', body: decodeFrames(row.reply) };
  }

  /** The request of a pending `uuid`; `undefined` once replied or closed. */
  async getRequest(uuid: string): Promise<StoredRequest | undefined> {
    const rows = await this.#p().query<{ service: Buffer; body: Buffer; reply: Buffer | null }>(
      `SELECT service, body, reply FROM ${this.#t} WHERE uuid = $1`,
      [uuid],
    );
    const row = rows[0];
    if (row === undefined || row.reply !== null) return undefined;
    return { uuid, service: row.service, body: decodeFrames(row.body) };
  }

  /** Every request without a reply, oldest first, read `recoveryPageSize` rows at a time. */
  async *pending(): AsyncIterable<PendingRef> {
    let after = '0';
    for (;;) {
      const page = await this.#p().query<{ seq: string; uuid: string; service: Buffer }>(
        `SELECT seq, uuid, service FROM ${this.#t} WHERE reply IS NULL AND seq > $1 ORDER BY seq LIMIT $2`,
        [after, this.#options.recoveryPageSize],
      );
      for (const row of page) yield { uuid: row.uuid, service: row.service };
      const last = page.at(-1);
      if (last === undefined || page.length < this.#options.recoveryPageSize) return;
      after = last.seq;
    }
  }

  /** How many stored requests are pending and how many replied (not yet closed). */
  async counts(): Promise<StoreCounts> {
    const rows = await this.#p().query<{ pending: string; replied: string }>(
      `SELECT count(*) FILTER (WHERE reply IS NULL) AS pending, count(*) FILTER (WHERE reply IS NOT NULL) AS replied FROM ${this.#t}`,
    );
    return { pending: Number(rows[0]?.pending ?? 0), replied: Number(rows[0]?.replied ?? 0) };
  }

  /**
   * Deletes the replies recorded before `repliedBeforeMs`, one instance at a time (an instance
   * that finds another sweeping skips the round, resolving 0), `expireBatchSize` rows per
   * transaction. See postgres-sweep.ts.
   */
  async expireReplies(repliedBeforeMs: number): Promise<number> {
    return sweepReplies(this.#p(), repliedBeforeMs, {
      table: this.#t,
      lockKey: `titanic-sweep:${this.#schema}`,
      batchSize: this.#options.expireBatchSize,
      running: () => this.running,
      log: this.#log,
    });
  }

  /**
   * Claims up to `limit` pending requests that no instance holds, or whose lease expired, for
   * `instance` until `leaseMs` from now (database clock), round-robin across services, counting
   * what this instance already `held` of each as taken turns. See `LeaseStore.claim`.
   */
  async claim(
    instance: string,
    leaseMs: number,
    limit: number,
    exclude: readonly Buffer[] = [],
    held: ReadonlyMap<string, number> = new Map(),
  ): Promise<StoredRequest[]> {
    return this.#leases.claim(instance, leaseMs, limit, exclude, held);
  }

  /** Extends the leases `instance` still holds among `uuids`; resolves with those it holds. */
  async renew(instance: string, uuids: readonly string[], leaseMs: number): Promise<string[]> {
    return this.#leases.renew(instance, uuids, leaseMs);
  }

  /** Gives up `instance`'s leases on `uuids`: claimable again after `delayMs`. */
  async release(instance: string, uuids: readonly string[], delayMs: number): Promise<void> {
    return this.#leases.release(instance, uuids, delayMs);
  }

  /** Requests without a reply, store-wide, for the backlog bound. */
  async countPending(): Promise<number> {
    return this.#leases.countPending();
  }

  /** Requests without a reply by service (latin1), for the per-service bound. */
  async countPendingByService(): Promise<Map<string, number>> {
    return this.#leases.countPendingByService();
  }

  /** Unexpired dispatch leases by the instance holding them (for a status page). */
  async leaseHolders(): Promise<{ instance: string; leases: number }[]> {
    return this.#leases.holders();
  }

  /** Pending requests by service, most first (`titanic pending`). */
  async pendingByService(): Promise<ServicePending[]> {
    return pendingByService(this.#p(), this.#t);
  }

  /** Pending and done requests by service (for a status page). */
  async statusByService(): Promise<ServiceCounts[]> {
    return statusByService(this.#p(), this.#t);
  }

  /** Deletes every pending request of `service`; resolves with their UUIDs, oldest first. */
  async purgeService(service: Buffer): Promise<string[]> {
    return purgeService(this.#p(), this.#t, service);
  }

  /** Stops the health probe and ends the pool. */
  protected async onClose(): Promise<void> {
    const pool = this.#pool;
    this.#pool = undefined;
    await pool?.end();
  }
}
