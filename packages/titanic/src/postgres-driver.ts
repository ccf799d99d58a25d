/**
 * The part of node-postgres (`pg`) that `PostgresStore` uses, typed here so that no public type
 * of this package names the driver's own (a consumer without `pg` type-checks), and loaded at
 * `start()` (see `loadDriver`). test/postgres-driver.test.ts checks that the real driver fits.
 */
import { loadDriver } from './driver.js';

/** Rows of a query. */
export interface PgResult<R> {
  readonly rows: R[];
  /** Rows the statement affected (`null` for statements without a count). */
  readonly rowCount: number | null;
}

/** Something that runs queries: a pool or one of its connections. */
export interface PgQueryable {
  query<R extends object = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<PgResult<R>>;
}

/** A connection checked out of the pool. */
export interface PgPoolClient extends PgQueryable {
  on(event: 'error', listener: (err: Error) => void): unknown;
  off(event: 'error', listener: (err: Error) => void): unknown;
  /** Back to the pool; with an error, discarded instead. */
  release(err?: Error): void;
}

/** The pool's settings that the store sets. */
export interface PgPoolConfig {
  connectionString: string;
  max: number;
  connectionTimeoutMillis: number;
  application_name: string;
  query_timeout: number;
  keepAlive: boolean;
  keepAliveInitialDelayMillis: number;
  /** Run on each new connection before the pool hands it out; a rejection closes it. */
  onConnect?: (client: PgQueryable) => Promise<void>;
}

/** A connection pool. */
export interface PgPool extends PgQueryable {
  connect(): Promise<PgPoolClient>;
  on(event: 'error', listener: (err: Error) => void): unknown;
  end(): Promise<void>;
}

/** The driver module. */
export interface PgDriver {
  readonly Pool: new (config: PgPoolConfig) => PgPool;
  /** An error the server reported, with its SQLSTATE in `code`. */
  readonly DatabaseError: abstract new (...args: never[]) => Error & { readonly code?: string | undefined };
}

/** The `pg` module; `InvalidStateError` saying what to install when it is missing. */
export function loadPg(): Promise<PgDriver> {
  return loadDriver<PgDriver>('PostgresStore', { name: 'pg', major: 8 });
}

/** The SQLSTATE of an error the server reported; undefined for any other failure. */
export function sqlState(pg: PgDriver, err: unknown): string | undefined {
  return err instanceof pg.DatabaseError ? (err.code ?? '') : undefined;
}

/**
 * True when `err` means "the database is not reachable now" rather than "this statement is
 * wrong": anything but a server error (a refused or broken connection, a timeout), or SQLSTATE
 * class 08 connection exception, 57 operator intervention (admin shutdown, starting up), 53
 * insufficient resources (too many connections).
 */
export function isUnavailable(pg: PgDriver, err: unknown): boolean {
  const code = sqlState(pg, err);
  return code === undefined || code.startsWith('08') || code.startsWith('57') || code.startsWith('53');
}
