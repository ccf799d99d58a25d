import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { postgresUrl } from './postgres-env.js';

const url = postgresUrl();

describe.skipIf(url === undefined)('test PostgreSQL (tools/postgres-setup.ts)', () => {
  it('answers on ZPATTERNS_PG_URL', async () => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query<{ one: number }>('SELECT 1::int AS one');
      expect(rows).toEqual([{ one: 1 }]);
    } finally {
      await client.end();
    }
  });
});
