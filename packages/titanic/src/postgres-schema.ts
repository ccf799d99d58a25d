/**
 * The PostgreSQL store's schema and its migrations. Layout (in the store's `schema`, default
 * `public`), created and migrated by Titanic itself:
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
 */
import { TitanicStoreError } from './errors.js';
import type { PgQueryable } from './postgres-driver.js';

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

/** The names a schema may have (unquoted, lower case: it is written into the SQL). */
export const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** The requests table of `schema`, as the SQL names it. */
export function requestsTable(schema: string): string {
  return `${schema}.titanic_requests`;
}

/**
 * Creates or migrates `schema` on `client`, which is inside a transaction: one migrator per schema
 * at a time (an advisory lock released at COMMIT/ROLLBACK). Throws `TitanicStoreError` for a
 * schema newer than this code.
 */
export async function migrate(client: PgQueryable, schema: string): Promise<void> {
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
}
