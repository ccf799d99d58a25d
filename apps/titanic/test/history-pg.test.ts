/**
 * Titanic's guarantees checked over a recorded history (see history-run.ts), two instances on
 * PostgreSQL: a short seeded run where the database link is black-holed, PostgreSQL crashes, and
 * one instance is killed, restarted (SIGTERM) and cut off, on real processes. `npm run chaos` runs the long
 * variant (history-pg.chaos.test.ts) with any seed.
 */
import { usePostgres } from '@zpatterns/testkit';
import { describe, expect, it } from 'vitest';
import { POSTGRES_FAULTS, runTitanicHistory } from './history-run.js';

// Skip where the run has no PostgreSQL at all (a developer machine without it); never under CI.
const postgres = usePostgres();

describe.skipIf(!postgres.available)('titanic on PostgreSQL: history under a seeded nemesis (real processes)', () => {
  it('every acknowledged request is answered with its own single reply; runs again only after a fault', async () => {
    const { result, titanicStarts } = await runTitanicHistory({
      seed: 31,
      durationMs: 26_000,
      first: [...POSTGRES_FAULTS, 'kill titanic', 'restart titanic', 'partition titanic link'],
      postgres: postgres.cluster(),
    });
    console.info(`titanic-pg history, seed 31: ${JSON.stringify(result.stats)}`);
    expect(result.stats?.['faults']).toBeGreaterThanOrEqual(5);
    expect(result.stats?.['acknowledged']).toBeGreaterThan(100);
    expect(titanicStarts).toBeGreaterThanOrEqual(3); // killed and restarted at least once each
  }, 75_000);
});
