/**
 * The part of `better-sqlite3` that `SqliteStore` uses, typed here so that no public type of this
 * package names the driver's own (a consumer without `better-sqlite3` type-checks), and loaded
 * at `start()` (see `loadDriver`). test/sqlite-driver.test.ts checks that the real driver fits.
 */
import { loadDriver } from './driver.js';

/** What `run()` reports. */
export interface SqliteRunResult {
  /** Rows inserted, updated or deleted. */
  readonly changes: number;
}

/** A prepared statement taking `P` and reading rows of `R` (see `prepare`). */
export interface SqliteStatement<P extends unknown[] = unknown[], R = unknown> {
  run(...params: P): SqliteRunResult;
  get(...params: P): R | undefined;
  all(...params: P): R[];
}

/** An open database. */
export interface SqliteDatabase {
  pragma(source: string, options?: { simple?: boolean }): unknown;
  exec(source: string): unknown;
  prepare(source: string): SqliteStatement;
  transaction<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R;
  close(): unknown;
}

/** The driver's `Database` class. */
export type SqliteDatabaseClass = new (
  filename: string,
  options?: { timeout?: number; fileMustExist?: boolean },
) => SqliteDatabase;

/** `db.prepare(source)`, typed with the statement's parameters `P` and rows `R`. */
export function prepare<P extends unknown[], R = unknown>(db: SqliteDatabase, source: string): SqliteStatement<P, R> {
  return db.prepare(source) as SqliteStatement<P, R>;
}

/** The `better-sqlite3` `Database` class; `InvalidStateError` saying what to install when it is missing. */
export function loadSqlite(): Promise<SqliteDatabaseClass> {
  return loadDriver<SqliteDatabaseClass>('SqliteStore', { name: 'better-sqlite3', major: 12 });
}
