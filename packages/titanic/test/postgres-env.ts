/**
 * The PostgreSQL that the tests use: `ZPATTERNS_PG_URL`, exported by the vitest globalSetup
 * (tools/postgres-setup.ts). Under `CI=true` a missing database is a failure, never a skip.
 */
export function postgresUrl(): string | undefined {
  const url = process.env['ZPATTERNS_PG_URL'];
  if (url === undefined && process.env['CI'] === 'true') {
    throw new Error('ZPATTERNS_PG_URL is not set: the PostgreSQL test cluster did not start');
  }
  return url;
}
