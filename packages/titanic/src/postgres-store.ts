/**
 * The server-grade store: PostgreSQL through node-postgres, for deployments that keep their
 * requests on the database they already operate (replicated, backed up) and that run several
 * Titanic instances on one queue.
 *
 * Same promise as `SqliteStore`: `write(batch)` is one transaction and resolves only after
 * COMMIT returned, so with PostgreSQL's defaults (`fsync = on`, `synchronous_commit = on`) it is
 * on disk. Group commit (`GroupCommitter`) on top makes N concurrent submissions one transaction.
 * Consecutive writes of one type in a batch become one statement (`unnest` of arrays), so a batch
 * of 500 requests is one round trip, not 500.
 *
 * Layout (in `schema`, default `public`), created and migrated by Titanic itself:
 *
 *   titanic_migrations(version PRIMARY KEY, applied_at)
 *   titanic_requests(seq bigserial PRIMARY KEY,   arrival order
 *                    uuid text UNIQUE, service bytea, body bytea (emptied once replied),
 *                    reply bytea NULL while pending, created_ms, replied_ms,
 *                    claimed_by text, claimed_until timestamptz)   the dispatch lease
 *   partial indexes WHERE reply IS NULL on (seq) and on (service, seq): pending requests in order,
 *   and by service for fair claims; WHERE reply IS NOT NULL on (replied_ms): the retention sweep
 *
 * Migrations run at `start()` inside one transaction holding a transaction-scoped advisory lock,
 * so two instances starting at once apply them once; a database newer than this code is refused.
 *
 * Several instances: `claim()` takes pending requests nobody holds (or whose lease expired),
 * round-robin across services, with `SELECT ... FOR UPDATE SKIP LOCKED`, stamping `claimed_by` and `claimed_until = now() + lease`.
 * Lease times use the database clock, so instances need not agree on the time.
 */
import {
  Component,
  componentLogger,
  exponentialBackoff,
  InvalidArgumentError,
  toError,
  type Logger,
  type RetryDelay,
} from '@zpatterns/core';
import { persistentRetryDelay } from '@zpatterns/core/internal';
import pg from 'pg';
import { TitanicStoreError } from './errors.js';
import {
  countBatch,
  decodeFrames,
  encodeFrames,
  newStoreStats,
  type PendingRef,
  type StoreCounts,
  type StoredRequest,
  type StoredState,
  type StoreStats,
  type StoreWrite,
  type LeaseStore,
  type ServiceCounts,
  type ServicePending,
  type StoreAdmin,
  type TitanicStore,
  type TitanicStoreStatus,
} from './store.js';

/** Options of `new PostgresStore(options)`; `postgresStoreDefaults` holds the defaults. */
export interface PostgresStoreOptions {
  /** Connection URL, e.g. `postgres://titanic@db.example/titanic`. */
  url: string;
  /** Schema holding Titanic's tables (created if missing). @default 'public' */
  schema?: string;
  /** Upper bound of the connection pool. @default 10 */
  maxConnections?: number;
  /** Give up connecting after this long (the submission then fails: a 500, never a false 200). @default 5000 */
  connectTimeoutMs?: number;
  /**
   * How long one query may go unanswered before it fails (the connection is then discarded): the
   * bound on noticing a database that stopped answering without closing the connection (a network
   * partition, a failover of its host), where TCP alone would take minutes. The same value is the
   * sessions' `statement_timeout`, so the server gives up on the statement too. @default 5000
   */
  queryTimeoutMs?: number;
  /**
   * `idle_in_transaction_session_timeout` of the sessions: the server ends a session left idle
   * inside a transaction this long (an instance frozen mid-commit), releasing its row locks.
   * @default 10000
   */
  idleInTransactionTimeoutMs?: number;
  /** TCP keep-alive on the connections, first probe after this long idle. @default 10000 */
  keepAliveMs?: number;
  /** Rows read per page during recovery. @default 1000 */
  recoveryPageSize?: number;
  /** Rows deleted per transaction by the retention sweep (`expireReplies`). @default 5000 */
  expireBatchSize?: number;
  /** `application_name` of the connections, as `pg_stat_activity` shows it. @default 'titanic' */
  applicationName?: string;
  /**
   * Delay before the `n`-th health probe (`SELECT 1`) while the database is unreachable; the first
   * success marks the store healthy again. Queries are never held back meanwhile: each one tries
   * a fresh connection and fails fast. @default exponential 100 ms .. 5 s, jitter 0.2
   */
  reconnectDelay?: RetryDelay;
  /** Parent logger. @default silent */
  logger?: Logger | undefined;
}

/** What `PostgresStore.settings()` reports (PostgreSQL's own spelling of each value). */
export interface PostgresSettings {
  /** `synchronous_commit`: `on` for Titanic's sessions. */
  synchronousCommit: string;
  /** `fsync` of the server: `on` unless the cluster was configured to lose data. */
  fsync: string;
  /** `synchronous_standby_names`: the standbys a COMMIT also waits for (empty: none). */
  synchronousStandbyNames: string;
  /** `statement_timeout` of the sessions (`queryTimeoutMs`). */
  statementTimeout: string;
  /** `idle_in_transaction_session_timeout` of the sessions (`idleInTransactionTimeoutMs`). */
  idleInTransactionSessionTimeout: string;
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

/** The schema versions, in order; each runs once, inside the migration transaction. */
const MIGRATIONS: readonly ((s: string) => string)[] = [
  (s) => `
    CREATE TABLE ${s}.titanic_requests (
      seq bigserial PRIMARY KEY,
      uuid text NOT NULL UNIQUE,
      service bytea NOT NULL,
      body bytea NOT NULL,
      reply bytea,
      created_ms bigint NOT NULL,
      replied_ms bigint,
      claimed_by text,
      claimed_until timestamptz
    );
    CREATE INDEX titanic_requests_pending ON ${s}.titanic_requests (seq) WHERE reply IS NULL;
    CREATE INDEX titanic_requests_replied ON ${s}.titanic_requests (replied_ms) WHERE reply IS NOT NULL;
  `,
  // Claims take requests round-robin across services: walk the services with pending requests.
  (s) => `
    CREATE INDEX titanic_requests_service_pending ON ${s}.titanic_requests (service, seq) WHERE reply IS NULL;
  `,
];

/**
 * The schema version this release writes; a database at a newer version is refused with `TitanicStoreError`.
 */
export const POSTGRES_SCHEMA_VERSION = MIGRATIONS.length;

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * SQLSTATE classes that mean "the database is not reachable now" rather than "this statement is
 * wrong": 08 connection exception, 57 operator intervention (admin shutdown, starting up), 53
 * insufficient resources (too many connections).
 */
function isUnavailable(err: unknown): boolean {
  if (!(err instanceof pg.DatabaseError)) return true;
  const code = err.code ?? '';
  return code.startsWith('08') || code.startsWith('57') || code.startsWith('53');
}

/**
 * The PostgreSQL store. `new PostgresStore({ url })` validates the options and opens nothing;
 * `start()` (which `TitanicServer.start()` calls) connects, creates or migrates the schema and is
 * ready then; it rejects with `TitanicStoreError` when the database cannot be reached or is newer
 * than this code. `await PostgresStore.start({ url })` does both. The status feed reports
 * `unhealthy` when the database stops answering and `healthy` when a query or the background
 * probe reaches it again.
 */
export class PostgresStore extends Component<TitanicStoreStatus> implements TitanicStore, LeaseStore, StoreAdmin {
  readonly #stats: StoreStats = newStoreStats();
  readonly #options: PostgresStoreOptions;
  readonly #schema: string;
  readonly #queryTimeoutMs: number;
  readonly #idleInTransactionMs: number;
  #pool: pg.Pool | undefined;
  readonly #t: string;
  readonly #pageSize: number;
  readonly #expireBatchSize: number;
  /** The advisory lock key of the retention sweep (one sweeper per schema). */
  readonly #sweepLock: string;
  readonly #reconnectDelay: RetryDelay;
  readonly #log: Logger;
  #healthy = true;
  /** The single-flight health probe loop while unhealthy. */
  #probing: Promise<void> | undefined;
  #probeTimer: NodeJS.Timeout | undefined;
  #probeWake: (() => void) | undefined;

  constructor(options: PostgresStoreOptions) {
    super();
    if (typeof options?.url !== 'string' || options.url === '')
      throw new InvalidArgumentError('url: a PostgreSQL connection URL is required');
    const schema = options.schema ?? postgresStoreDefaults.schema;
    if (!IDENTIFIER.test(schema)) throw new InvalidArgumentError(`schema: invalid name ${JSON.stringify(schema)}`);
    this.#queryTimeoutMs = Math.round(options.queryTimeoutMs ?? postgresStoreDefaults.queryTimeoutMs);
    this.#idleInTransactionMs = Math.round(
      options.idleInTransactionTimeoutMs ?? postgresStoreDefaults.idleInTransactionTimeoutMs,
    );
    if (!(this.#queryTimeoutMs >= 1) || !(this.#idleInTransactionMs >= 1))
      throw new InvalidArgumentError('queryTimeoutMs and idleInTransactionTimeoutMs: expected numbers >= 1');
    this.#options = options;
    this.#schema = schema;
    this.#t = `${schema}.titanic_requests`;
    this.#sweepLock = `titanic-sweep:${schema}`;
    this.#pageSize = options.recoveryPageSize ?? postgresStoreDefaults.recoveryPageSize;
    this.#expireBatchSize = options.expireBatchSize ?? postgresStoreDefaults.expireBatchSize;
    this.#reconnectDelay = options.reconnectDelay ?? postgresStoreDefaults.reconnectDelay;
    this.#log = componentLogger(options.logger, { component: 'postgres-store', schema });
  }

  /** Connects and creates or migrates the schema. */
  protected async onStart(): Promise<void> {
    const options = this.#options;
    const pool = new pg.Pool({
      connectionString: options.url,
      max: options.maxConnections ?? postgresStoreDefaults.maxConnections,
      connectionTimeoutMillis: options.connectTimeoutMs ?? postgresStoreDefaults.connectTimeoutMs,
      application_name: options.applicationName ?? postgresStoreDefaults.applicationName,
      query_timeout: this.#queryTimeoutMs,
      keepAlive: true,
      keepAliveInitialDelayMillis: options.keepAliveMs ?? postgresStoreDefaults.keepAliveMs,
    });
    // Every session, whatever the role's or the database's defaults: a COMMIT returns only once it
    // is flushed to disk (and to synchronous standbys, if any), so "200" means durable; the server
    // gives up on statements and idle transactions as the client does. Sent on connect, before
    // any query of ours on that connection (a client runs its queries in order).
    const sessionSetup =
      `SET synchronous_commit = on; SET statement_timeout = ${this.#queryTimeoutMs}; ` +
      `SET idle_in_transaction_session_timeout = ${this.#idleInTransactionMs}`;
    pool.on('connect', (client) => {
      client.query(sessionSetup).catch(() => undefined);
    });
    // An idle connection that breaks (database restart) is reported here; without a listener the
    // pool's 'error' event would kill the process. The next query opens a fresh connection.
    pool.on('error', (err) => this.#unhealthy(err));
    this.#pool = pool;
    try {
      await this.#migrate(this.#schema);
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
    return this.#healthy && this.running;
  }

  /** The pool, while starting or running (migrations run during the start). */
  #p(): pg.Pool {
    if (this.lifecycle !== 'starting') this.assertRunning();
    if (this.#pool === undefined) throw new TitanicStoreError('store is not open');
    return this.#pool;
  }

  async #migrate(schema: string): Promise<void> {
    await this.#transaction(async (client) => {
      // One migrator per schema at a time, released at COMMIT/ROLLBACK.
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`titanic:${schema}`]);
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${schema}.titanic_migrations (version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`,
      );
      const { rows } = await client.query<{ v: number | null }>(
        `SELECT max(version) AS v FROM ${schema}.titanic_migrations`,
      );
      const current = rows[0]?.v ?? 0;
      if (current > MIGRATIONS.length) {
        throw new TitanicStoreError(`schema ${schema} has version ${current}; this Titanic knows ${MIGRATIONS.length}`);
      }
      for (let version = current + 1; version <= MIGRATIONS.length; version++) {
        const migration = MIGRATIONS[version - 1];
        if (migration === undefined) break;
        await client.query(migration(schema));
        await client.query(`INSERT INTO ${schema}.titanic_migrations (version) VALUES ($1)`, [version]);
      }
    });
  }

  /**
   * The durability settings of Titanic's sessions as the server reports them: `synchronousCommit`
   * ('on' unless a standby setting adds more), `fsync`, `synchronousStandbyNames`, and the timeouts.
   */
  async settings(): Promise<PostgresSettings> {
    const rows = await this.#query<Record<string, string>>(
      `SELECT current_setting('synchronous_commit') AS sc, current_setting('fsync') AS fsync,
              current_setting('synchronous_standby_names') AS standbys,
              current_setting('statement_timeout') AS st,
              current_setting('idle_in_transaction_session_timeout') AS iit`,
    );
    const row = rows[0] ?? {};
    return {
      synchronousCommit: row['sc'] ?? '',
      fsync: row['fsync'] ?? '',
      synchronousStandbyNames: row['standbys'] ?? '',
      statementTimeout: row['st'] ?? '',
      idleInTransactionSessionTimeout: row['iit'] ?? '',
    };
  }

  /** Applies `batch` in one transaction; resolves once COMMIT returned. */
  async write(batch: readonly StoreWrite[]): Promise<void> {
    this.assertRunning();
    if (batch.length === 0) return;
    try {
      await this.#retryingConflicts(() =>
        this.#transaction(async (client) => {
          const now = Date.now();
          let at = 0;
          while (at < batch.length) {
            const type = batch[at]?.type;
            let end = at;
            while (end < batch.length && batch[end]?.type === type) end++;
            await this.#applyRun(client, batch.slice(at, end), now);
            at = end;
          }
        }),
      );
    } catch (err) {
      throw new TitanicStoreError(`commit of ${batch.length} writes failed: ${(err as Error).message}`, { cause: err });
    }
    countBatch(this.#stats, batch);
  }

  /** One statement for a run of writes of the same type. */
  async #applyRun(client: pg.PoolClient, run: readonly StoreWrite[], now: number): Promise<void> {
    const uuids: string[] = [];
    const blobs: Buffer[] = [];
    const services: Buffer[] = [];
    const seen = new Set<string>();
    for (const w of run) {
      // Within one statement the first write of a UUID wins, as it would if applied one by one.
      if (w.type !== 'close' && seen.has(w.uuid)) continue;
      seen.add(w.uuid);
      uuids.push(w.uuid);
      if (w.type === 'request') {
        services.push(w.service);
        blobs.push(encodeFrames(w.body));
      } else if (w.type === 'reply') {
        blobs.push(encodeFrames(w.body));
      }
    }
    switch (run[0]?.type) {
      case 'request':
        await client.query(
          `INSERT INTO ${this.#t} (uuid, service, body, created_ms)
           SELECT u, s, b, $4 FROM unnest($1::text[], $2::bytea[], $3::bytea[]) WITH ORDINALITY AS v(u, s, b, n)
           ORDER BY n ON CONFLICT (uuid) DO NOTHING`,
          [uuids, services, blobs, now],
        );
        break;
      case 'reply':
        await client.query(
          // Rows are locked in seq order (the CTE), as every multi-row statement here does, so
          // concurrent instances do not deadlock on each other's batches.
          `WITH l AS (SELECT seq, uuid FROM ${this.#t} WHERE uuid = ANY($1::text[]) AND reply IS NULL ORDER BY seq FOR UPDATE)
           UPDATE ${this.#t} t SET reply = v.r, body = '\\x', replied_ms = $3, claimed_by = NULL, claimed_until = NULL
           FROM l JOIN unnest($1::text[], $2::bytea[]) AS v(u, r) ON v.u = l.uuid WHERE t.seq = l.seq`,
          [uuids, blobs, now],
        );
        break;
      case 'close':
        await client.query(
          `WITH l AS (SELECT seq FROM ${this.#t} WHERE uuid = ANY($1::text[]) ORDER BY seq FOR UPDATE)
           DELETE FROM ${this.#t} t USING l WHERE t.seq = l.seq`,
          [uuids],
        );
        break;
      case undefined:
        break;
    }
  }

  /** The state of `uuid`: replied (with the body), pending or unknown. */
  async get(uuid: string): Promise<StoredState> {
    const rows = await this.#query<{ reply: Buffer | null }>(`SELECT reply FROM ${this.#t} WHERE uuid = $1`, [uuid]);
    const row = rows[0];
    if (row === undefined) return { state: 'unknown' };
    return row.reply === null ? { state: 'pending' } : { state: 'replied', body: decodeFrames(row.reply) };
  }

  /** The request of a pending `uuid`; `undefined` once replied or closed. */
  async getRequest(uuid: string): Promise<StoredRequest | undefined> {
    const rows = await this.#query<{ service: Buffer; body: Buffer; reply: Buffer | null }>(
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
      const page = await this.#query<{ seq: string; uuid: string; service: Buffer }>(
        `SELECT seq, uuid, service FROM ${this.#t} WHERE reply IS NULL AND seq > $1 ORDER BY seq LIMIT $2`,
        [after, this.#pageSize],
      );
      for (const row of page) yield { uuid: row.uuid, service: row.service };
      const last = page.at(-1);
      if (last === undefined || page.length < this.#pageSize) return;
      after = last.seq;
    }
  }

  /**
   * Claims up to `limit` pending requests that no instance holds, or whose lease expired, for
   * `instance` until `leaseMs` from now (database clock): round-robin across services (the oldest
   * of each service first, then the second oldest of each, ...), counting what this instance
   * already `held` of each as taken turns, so that a service with a long backlog does not take
   * every claim (nor every slot) from the others. Rows another transaction is claiming at the
   * same moment are skipped, never waited for.
   */
  async claim(
    instance: string,
    leaseMs: number,
    limit: number,
    exclude: readonly Buffer[] = [],
    held: ReadonlyMap<string, number> = new Map(),
  ): Promise<StoredRequest[]> {
    const t = this.#t;
    const heldServices = [...held.keys()].map((key) => Buffer.from(key, 'latin1'));
    const rows = await this.#query<{ uuid: string; service: Buffer; body: Buffer }>(
      // The services with pending requests, one index probe each (a loose index scan).
      `WITH RECURSIVE s(service) AS (
         (SELECT service FROM ${t} WHERE reply IS NULL ORDER BY service LIMIT 1)
         UNION ALL
         SELECT (SELECT p.service FROM ${t} p WHERE p.reply IS NULL AND p.service > s.service
                 ORDER BY p.service LIMIT 1)
         FROM s WHERE s.service IS NOT NULL
       ),
       h AS (SELECT * FROM unnest($5::bytea[], $6::int[]) AS h(service, n)),
       c AS (
         SELECT r.seq,
                row_number() OVER (PARTITION BY s.service ORDER BY r.seq)
                  + coalesce((SELECT h.n FROM h WHERE h.service = s.service), 0) AS turn
         FROM s CROSS JOIN LATERAL (
           SELECT seq FROM ${t}
           WHERE service = s.service AND reply IS NULL AND (claimed_until IS NULL OR claimed_until < now())
           ORDER BY seq LIMIT $3 FOR UPDATE SKIP LOCKED
         ) r
         WHERE s.service IS NOT NULL AND s.service <> ALL($4::bytea[])
         ORDER BY turn, r.seq LIMIT $3
       )
       UPDATE ${t} t SET claimed_by = $1, claimed_until = now() + $2 * interval '1 millisecond'
       FROM c WHERE t.seq = c.seq RETURNING t.seq, t.uuid, t.service, t.body`,
      [instance, leaseMs, limit, exclude, heldServices, [...held.values()]],
    );
    return rows.map((row) => ({ uuid: row.uuid, service: row.service, body: decodeFrames(row.body) }));
  }

  /** Extends the leases `instance` still holds among `uuids`; resolves with those it holds. */
  async renew(instance: string, uuids: readonly string[], leaseMs: number): Promise<string[]> {
    if (uuids.length === 0) return [];
    const rows = await this.#query<{ uuid: string }>(
      `WITH l AS (SELECT seq FROM ${this.#t} WHERE uuid = ANY($1::text[]) AND claimed_by = $2 AND reply IS NULL
                  ORDER BY seq FOR UPDATE)
       UPDATE ${this.#t} t SET claimed_until = now() + $3 * interval '1 millisecond'
       FROM l WHERE t.seq = l.seq AND t.claimed_by = $2 RETURNING t.uuid`,
      [uuids, instance, leaseMs],
    );
    return rows.map((row) => row.uuid);
  }

  /** Gives up `instance`'s leases on `uuids`: claimable again after `delayMs`. */
  async release(instance: string, uuids: readonly string[], delayMs: number): Promise<void> {
    if (uuids.length === 0) return;
    await this.#query(
      `WITH l AS (SELECT seq FROM ${this.#t} WHERE uuid = ANY($1::text[]) AND claimed_by = $2 AND reply IS NULL
                  ORDER BY seq FOR UPDATE)
       UPDATE ${this.#t} t SET claimed_by = NULL,
         claimed_until = CASE WHEN $3 > 0 THEN now() + $3 * interval '1 millisecond' END
       FROM l WHERE t.seq = l.seq AND t.claimed_by = $2`,
      [uuids, instance, Math.max(0, Math.round(delayMs))],
    );
  }

  /** Pending requests by service, most first (`titanic pending`). */
  async pendingByService(): Promise<ServicePending[]> {
    const rows = await this.#query<{ service: Buffer; n: string; oldest: string; newest: string }>(
      `SELECT service, count(*) AS n, min(created_ms) AS oldest, max(created_ms) AS newest
       FROM ${this.#t} WHERE reply IS NULL GROUP BY service ORDER BY n DESC, service`,
    );
    return rows.map((r) => ({
      service: r.service,
      count: Number(r.n),
      oldestMs: Number(r.oldest),
      newestMs: Number(r.newest),
    }));
  }

  /** Pending and done requests by service (for a status page). */
  async statusByService(): Promise<ServiceCounts[]> {
    const rows = await this.#query<{ service: Buffer; pending: string; done: string; oldest: string | null }>(
      `SELECT service, count(*) FILTER (WHERE reply IS NULL) AS pending, count(*) FILTER (WHERE reply IS NOT NULL) AS done,
              min(created_ms) FILTER (WHERE reply IS NULL) AS oldest
       FROM ${this.#t} GROUP BY service ORDER BY service`,
    );
    return rows.map((r) => ({
      service: r.service.toString('latin1'),
      pending: Number(r.pending),
      done: Number(r.done),
      oldestPendingMs: r.oldest === null ? null : Number(r.oldest),
    }));
  }

  /** Unexpired dispatch leases by the instance holding them (for a status page). */
  async leaseHolders(): Promise<{ instance: string; leases: number }[]> {
    const rows = await this.#query<{ instance: string; n: string }>(
      `SELECT claimed_by AS instance, count(*) AS n FROM ${this.#t}
       WHERE reply IS NULL AND claimed_by IS NOT NULL AND claimed_until > now() GROUP BY claimed_by ORDER BY claimed_by`,
    );
    return rows.map((r) => ({ instance: r.instance, leases: Number(r.n) }));
  }

  /** Deletes every pending request of `service`; resolves with their UUIDs, oldest first. */
  async purgeService(service: Buffer): Promise<string[]> {
    const rows = await this.#query<{ uuid: string; seq: string }>(
      `DELETE FROM ${this.#t} WHERE reply IS NULL AND service = $1 RETURNING uuid, seq`,
      [service],
    );
    return rows.sort((x, y) => Number(x.seq) - Number(y.seq)).map((r) => r.uuid);
  }

  /** Requests without a reply by service (latin1), for the per-service bound. */
  async countPendingByService(): Promise<Map<string, number>> {
    const rows = await this.#query<{ service: Buffer; n: string }>(
      `SELECT service, count(*) AS n FROM ${this.#t} WHERE reply IS NULL GROUP BY service`,
    );
    return new Map(rows.map((r) => [r.service.toString('latin1'), Number(r.n)]));
  }

  /** Requests without a reply, store-wide, for the backlog bound. */
  async countPending(): Promise<number> {
    const rows = await this.#query<{ n: string }>(`SELECT count(*) AS n FROM ${this.#t} WHERE reply IS NULL`);
    return Number(rows[0]?.n ?? 0);
  }

  /** How many stored requests are pending and how many replied (not yet closed). */
  async counts(): Promise<StoreCounts> {
    const rows = await this.#query<{ pending: string; replied: string }>(
      `SELECT count(*) FILTER (WHERE reply IS NULL) AS pending, count(*) FILTER (WHERE reply IS NOT NULL) AS replied FROM ${this.#t}`,
    );
    return { pending: Number(rows[0]?.pending ?? 0), replied: Number(rows[0]?.replied ?? 0) };
  }

  /**
   * One instance at a time: the sweep holds a session advisory lock for its duration, and an
   * instance that finds it taken skips this round (resolving 0). Rows go in transactions of
   * `expireBatchSize`, each well inside the statement timeout, skipping rows other transactions
   * hold (a `titanic.close` of the same request) rather than waiting for them.
   */
  async expireReplies(repliedBeforeMs: number): Promise<number> {
    const client = await this.#run(() => this.#p().connect());
    const onError = (err: Error): void => this.#unhealthy(err);
    client.on('error', onError);
    let broken: Error | undefined;
    try {
      const { rows } = await this.#run(() =>
        client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS locked', [this.#sweepLock]),
      );
      if (rows[0]?.locked !== true) {
        this.#log.debug('retention sweep skipped: another instance is sweeping');
        return 0;
      }
      let deleted = 0;
      try {
        for (;;) {
          const result = await this.#run(() =>
            client.query(
              `WITH l AS (SELECT seq FROM ${this.#t} WHERE reply IS NOT NULL AND replied_ms < $1
                          LIMIT $2 FOR UPDATE SKIP LOCKED)
               DELETE FROM ${this.#t} t USING l WHERE t.seq = l.seq`,
              [repliedBeforeMs, this.#expireBatchSize],
            ),
          );
          const n = result.rowCount ?? 0;
          deleted += n;
          if (n < this.#expireBatchSize || !this.running) return deleted;
        }
      } finally {
        await client.query('SELECT pg_advisory_unlock(hashtext($1))', [this.#sweepLock]).catch((err: unknown) => {
          broken = toError(err);
        });
      }
    } catch (err) {
      broken = toError(err);
      throw err;
    } finally {
      // A session that may still hold the lock (or is broken) is not handed to anyone else.
      client.off('error', onError);
      client.release(broken);
    }
  }

  /** Stops the health probe and ends the pool. */
  protected async onClose(): Promise<void> {
    if (this.#probeTimer !== undefined) clearTimeout(this.#probeTimer);
    this.#probeWake?.();
    await this.#probing;
    const pool = this.#pool;
    this.#pool = undefined;
    await pool?.end();
  }

  async #query<TRow extends pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<TRow[]> {
    return (await this.#retryingConflicts(() => this.#run(() => this.#p().query<TRow>(sql, params)))).rows;
  }

  /**
   * Runs `op` again (up to 5 times, after a short random pause) when PostgreSQL aborted it for a
   * deadlock (40P01) or a serialization failure (40001). Every statement here is safe to repeat:
   * inserts ignore conflicts, replies apply only to unanswered rows, leases check their holder.
   */
  async #retryingConflicts<T>(op: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await op();
      } catch (err) {
        const code = err instanceof pg.DatabaseError ? err.code : undefined;
        if ((code !== '40P01' && code !== '40001') || attempt >= 5 || this.closeSignal.aborted) throw err;
        this.#log.debug({ code, attempt }, 'transaction conflict, retrying');
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * attempt));
      }
    }
  }

  /** Runs `op`, tracking health: any failure to reach the database marks the store unhealthy. */
  async #run<T>(op: () => Promise<T>): Promise<T> {
    try {
      const result = await op();
      this.#recovered();
      return result;
    } catch (err) {
      if (isUnavailable(err)) this.#unhealthy(err);
      throw err;
    }
  }

  /**
   * The database is unreachable: report unhealthy and probe it with backoff (single flight) until
   * it answers, so `/healthz` recovers even when no traffic comes. The pool needs no reconnect of
   * its own: every query takes a live connection or opens a new one.
   */
  #unhealthy(err: unknown): void {
    if (this.closeSignal.aborted) return;
    if (this.#healthy) {
      this.#log.warn({ err: toError(err) }, 'database unreachable');
      this.emit({ type: 'unhealthy', error: toError(err) });
    }
    this.#healthy = false;
    if (this.#probing !== undefined) return;
    this.#probing = this.#probe().finally(() => {
      this.#probing = undefined;
    });
  }

  #recovered(): void {
    if (this.#healthy) return;
    this.#healthy = true;
    this.emit({ type: 'healthy' });
  }

  async #probe(): Promise<void> {
    for (let attempt = 1; !this.closeSignal.aborted && !this.#healthy; attempt++) {
      const delayMs = persistentRetryDelay(this.#reconnectDelay, attempt, 5000);
      await new Promise<void>((resolve) => {
        this.#probeWake = resolve;
        this.#probeTimer = setTimeout(resolve, delayMs);
      });
      this.#probeTimer = undefined;
      this.#probeWake = undefined;
      const pool = this.#pool;
      if (this.closeSignal.aborted || this.#healthy || pool === undefined) break;
      try {
        await pool.query('SELECT 1');
        this.#recovered();
        this.#log.info({ attempts: attempt }, 'database reachable again');
      } catch (err) {
        this.#log.debug({ err: toError(err), attempt, delayMs }, 'database still unreachable');
      }
    }
  }

  async #transaction(body: (client: pg.PoolClient) => Promise<void>): Promise<void> {
    await this.#run(async () => {
      const client = await this.#p().connect();
      // While checked out the pool does not listen for the connection breaking between two
      // statements; an unheard 'error' event would end the process.
      const onError = (err: Error): void => this.#unhealthy(err);
      client.on('error', onError);
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        await body(client);
        await client.query('COMMIT');
      } catch (err) {
        broken = err as Error;
        // A connection that timed out or broke is discarded below; a ROLLBACK would only wait on it.
        if (!isUnavailable(broken)) await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        // A connection that failed mid-transaction is discarded, not returned to the pool.
        client.off('error', onError);
        client.release(broken !== undefined && isUnavailable(broken) ? broken : undefined);
      }
    });
  }
}
