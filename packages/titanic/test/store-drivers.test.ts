/**
 * The stores' drivers: loaded at `start()`, a missing one is one clear error, and the real
 * drivers fit the types the stores are written against (checked by the compiler: these
 * assignments fail `npm run typecheck` when `better-sqlite3` or `pg` change under us).
 */
import Database from 'better-sqlite3';
import pg from 'pg';
import { InvalidStateError } from '@zpatterns/core';
import { describe, expect, it } from 'vitest';
import { loadDriver } from '../src/driver.js';
import { loadPg, type PgDriver } from '../src/postgres-driver.js';
import { loadSqlite, type SqliteDatabaseClass } from '../src/sqlite-driver.js';

describe('store drivers', () => {
  it('the real better-sqlite3 and pg fit the stores’ own types, and are what the stores load', async () => {
    const sqlite: SqliteDatabaseClass = Database;
    const postgres: PgDriver = pg;
    expect(await loadSqlite()).toBe(sqlite);
    expect(await loadPg()).toBe(postgres);
  });

  it('a missing driver rejects with InvalidStateError saying what to install', async () => {
    const loading = loadDriver('SqliteStore', { name: 'zpatterns-no-such-driver', major: 12 });
    await expect(loading).rejects.toBeInstanceOf(InvalidStateError);
    await expect(loading).rejects.toMatchObject({
      code: 'ERR_INVALID_STATE',
      message: 'SqliteStore needs the zpatterns-no-such-driver package: npm install zpatterns-no-such-driver@12',
    });
  });
});
