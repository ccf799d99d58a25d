/**
 * vitest globalSetup: one throwaway PostgreSQL cluster for the whole run (see
 * packages/testkit/src/postgres.ts), its URL exported as `ZPATTERNS_PG_URL` to the test workers and the daemons they start.
 *
 * - `ZPATTERNS_PG_URL` already set: that database is used and nothing is started; set but empty:
 *   no database, the PostgreSQL tests skip (a failure under `CI=true`).
 * - It cannot be started: under `CI=true` the run fails here; for a developer a warning is printed
 *   and the PostgreSQL tests skip (see `postgresUrl()` in the tests).
 */
// The source file, not the package: globalSetup runs before anything is built.
import { startPostgres, type PostgresCluster } from '../packages/testkit/src/postgres.js';

export default async function setup(): Promise<(() => Promise<void>) | undefined> {
  const given = process.env['ZPATTERNS_PG_URL'];
  if (given === '' && process.env['CI'] === 'true') {
    throw new Error('ZPATTERNS_PG_URL is empty under CI=true: the PostgreSQL tests must run in CI');
  }
  if (given !== undefined) return undefined;
  let cluster: PostgresCluster;
  try {
    cluster = await startPostgres();
  } catch (err) {
    if (process.env['CI'] === 'true') throw err;
    console.warn(`PostgreSQL tests will skip: ${err instanceof Error ? err.message : String(err)}`);
    return undefined;
  }
  process.env['ZPATTERNS_PG_URL'] = cluster.url;
  process.env['ZPATTERNS_PG_DIR'] = cluster.dir;
  return () => cluster.stop();
}
