/**
 * The PostgreSQL store's connections and their health: a node-postgres pool whose sessions are
 * set up for durability (`synchronous_commit = on`) and bounded waits, queries that retry the
 * conflicts PostgreSQL asks to retry, transactions that discard a broken connection, and the
 * health of the database as the queries see it.
 *
 *   healthy ──a query fails for lack of the database──> unhealthy ──a query or the probe──> healthy
 *                                                          └─ probe: `SELECT 1` with backoff (single flight)
 *
 * Queries are never held back while unhealthy: each one takes a live connection or opens a new
 * one and fails fast, so the pool needs no reconnect of its own.
 */
import { toError, type Logger, type RetryDelay } from '@zpatterns/core';
import { persistentRetryDelay } from '@zpatterns/core/internal';
import {
  isUnavailable,
  sqlState,
  type PgDriver,
  type PgPool,
  type PgPoolClient,
  type PgPoolConfig,
  type PgQueryable,
} from './postgres-driver.js';

/** What `PostgresPool` needs from its store. */
export interface PostgresPoolOptions {
  /** The pool's settings. */
  readonly config: PgPoolConfig;
  /** `statement_timeout` of the sessions, ms. */
  readonly statementTimeoutMs: number;
  /** `idle_in_transaction_session_timeout` of the sessions, ms. */
  readonly idleInTransactionTimeoutMs: number;
  /** Delay before the n-th health probe while the database is unreachable. */
  readonly reconnectDelay: RetryDelay;
  /** Aborted when the store closes: no health change is reported after it. */
  readonly closed: AbortSignal;
  readonly log: Logger;
  /** The database became unreachable. */
  readonly onUnhealthy: (error: Error) => void;
  /** The database answers again. */
  readonly onHealthy: () => void;
}

/** The pool of a started `PostgresStore`, with the database's health. */
export class PostgresPool {
  readonly #pg: PgDriver;
  readonly #pool: PgPool;
  readonly #options: PostgresPoolOptions;
  #healthy = true;
  /** The single-flight health probe loop while unhealthy. */
  #probing: Promise<void> | undefined;
  #probeTimer: NodeJS.Timeout | undefined;
  #probeWake: (() => void) | undefined;

  constructor(pg: PgDriver, options: PostgresPoolOptions) {
    this.#pg = pg;
    this.#options = options;
    // Every session, whatever the role's or the database's defaults: a COMMIT returns only once it
    // is flushed to disk (and to synchronous standbys, if any), so "200" means durable; the server
    // gives up on statements and idle transactions as the client does. The pool runs this on each
    // new connection and hands the connection out only once it succeeded; if it fails, that
    // connection is closed and the query that needed it fails.
    const sessionSetup =
      `SET synchronous_commit = on; SET statement_timeout = ${options.statementTimeoutMs}; ` +
      `SET idle_in_transaction_session_timeout = ${options.idleInTransactionTimeoutMs}`;
    const pool = new pg.Pool({
      ...options.config,
      onConnect: async (client) => {
        await client.query(sessionSetup);
      },
    });
    // An idle connection that breaks (database restart) is reported here; without a listener the
    // pool's 'error' event would kill the process. The next query opens a fresh connection.
    pool.on('error', (err) => this.unhealthy(err));
    this.#pool = pool;
  }

  /** False after a query failed for lack of the database, true again after the next success. */
  get healthy(): boolean {
    return this.#healthy;
  }

  /** The rows of one statement, on any connection of the pool. */
  async query<R extends object>(sql: string, params?: unknown[]): Promise<R[]> {
    return (await this.retryingConflicts(() => this.run(() => this.#pool.query<R>(sql, params)))).rows;
  }

  /**
   * Runs `body` between BEGIN and COMMIT on one connection; ROLLBACK when it throws. A connection
   * that failed mid-transaction is discarded, not returned to the pool.
   */
  async transaction(body: (client: PgQueryable) => Promise<void>): Promise<void> {
    await this.run(async () => {
      const client = await this.#pool.connect();
      // While checked out the pool does not listen for the connection breaking between two
      // statements; an unheard 'error' event would end the process.
      const onError = (err: Error): void => this.unhealthy(err);
      client.on('error', onError);
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        await body(client);
        await client.query('COMMIT');
      } catch (err) {
        broken = err as Error;
        // A connection that timed out or broke is discarded below; a ROLLBACK would only wait on it.
        if (!isUnavailable(this.#pg, broken)) await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        client.off('error', onError);
        client.release(broken !== undefined && isUnavailable(this.#pg, broken) ? broken : undefined);
      }
    });
  }

  /**
   * One connection for a session of the caller's own (an advisory lock held across statements),
   * its breaking reported as unhealthy. `release(broken)` gives it back: discarded with an error.
   */
  async session(): Promise<{ client: PgQueryable; release: (broken?: Error) => void }> {
    const client: PgPoolClient = await this.run(() => this.#pool.connect());
    const onError = (err: Error): void => this.unhealthy(err);
    client.on('error', onError);
    return {
      client,
      release: (broken) => {
        client.off('error', onError);
        client.release(broken);
      },
    };
  }

  /**
   * Runs `op` again (up to 5 times, after a short random pause) when PostgreSQL aborted it for a
   * deadlock (40P01) or a serialization failure (40001). Every statement of the store is safe to
   * repeat: inserts ignore conflicts, replies apply only to unanswered rows, leases check their holder.
   */
  async retryingConflicts<T>(op: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await op();
      } catch (err) {
        const code = sqlState(this.#pg, err);
        if ((code !== '40P01' && code !== '40001') || attempt >= 5 || this.#options.closed.aborted) throw err;
        this.#options.log.debug({ code, attempt }, 'transaction conflict, retrying');
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * attempt));
      }
    }
  }

  /** Runs `op`, tracking health: any failure to reach the database marks the pool unhealthy. */
  async run<T>(op: () => Promise<T>): Promise<T> {
    try {
      const result = await op();
      this.#recovered();
      return result;
    } catch (err) {
      if (isUnavailable(this.#pg, err)) this.unhealthy(err);
      throw err;
    }
  }

  /**
   * The database is unreachable: report unhealthy and probe it with backoff (single flight) until
   * it answers, so `/healthz` recovers even when no traffic comes.
   */
  unhealthy(err: unknown): void {
    if (this.#options.closed.aborted) return;
    if (this.#healthy) {
      this.#options.log.warn({ err: toError(err) }, 'database unreachable');
      this.#options.onUnhealthy(toError(err));
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
    this.#options.onHealthy();
  }

  async #probe(): Promise<void> {
    const { closed, log } = this.#options;
    for (let attempt = 1; !closed.aborted && !this.#healthy; attempt++) {
      const delayMs = persistentRetryDelay(this.#options.reconnectDelay, attempt, 5000);
      await new Promise<void>((resolve) => {
        this.#probeWake = resolve;
        this.#probeTimer = setTimeout(resolve, delayMs);
      });
      this.#probeTimer = undefined;
      this.#probeWake = undefined;
      if (closed.aborted || this.#healthy) break;
      try {
        await this.#pool.query('SELECT 1');
        this.#recovered();
        log.info({ attempts: attempt }, 'database reachable again');
      } catch (err) {
        log.debug({ err: toError(err), attempt, delayMs }, 'database still unreachable');
      }
    }
  }

  /** Stops the health probe and ends the pool (after `closed` aborted). */
  async end(): Promise<void> {
    if (this.#probeTimer !== undefined) clearTimeout(this.#probeTimer);
    this.#probeWake?.();
    await this.#probing;
    await this.#pool.end();
  }
}
