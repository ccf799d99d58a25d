import { afterAll, beforeAll } from 'vitest';
import { postgresUrl, startPostgres, type PostgresCluster } from './postgres.js';

/** A test file's own PostgreSQL cluster, from {@link usePostgres}. */
export interface PostgresForTests {
  /** Whether this machine has PostgreSQL for the tests (`postgresUrl()`); when not, skip. */
  readonly available: boolean;
  /** The running cluster; throws when called while none runs (outside the file's tests). */
  cluster(): PostgresCluster;
}

/**
 * A throwaway cluster of this test file's own (one it may restart, crash or black-hole), started
 * before the file's tests and stopped after them, when `available`. Call it at the top level of
 * the file.
 */
export function usePostgres(): PostgresForTests {
  const available = postgresUrl() !== undefined;
  let running: PostgresCluster | undefined;
  beforeAll(async () => {
    if (available) running = await startPostgres();
  }, 60_000);
  afterAll(async () => {
    await running?.stop();
  });
  return {
    available,
    cluster() {
      if (running === undefined) throw new Error('no PostgreSQL cluster runs (is the test file skipped?)');
      return running;
    },
  };
}
