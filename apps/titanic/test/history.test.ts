/**
 * Titanic's guarantees checked over a recorded history (see history-run.ts): a short seeded run
 * where each fault of the nemesis happens once, on real processes. `npm run chaos` runs the long
 * variant (history.chaos.test.ts) with any seed.
 */
import { describe, expect, it } from 'vitest';
import { runTitanicHistory, TITANIC_FAULTS } from './history-run.js';

describe('titanic: history under a seeded nemesis (real processes)', () => {
  it('every acknowledged request is answered with its own single reply; runs again only after a fault', async () => {
    const { result, titanicStarts } = await runTitanicHistory({
      seed: 31,
      durationMs: 24_000,
      first: TITANIC_FAULTS.slice(0, 5),
    });
    console.info(`titanic history, seed 31: ${JSON.stringify(result.stats)}`);
    // The run did what it is for: requests were acknowledged and fetched through every fault.
    expect(result.stats?.['faults']).toBeGreaterThanOrEqual(5);
    expect(result.stats?.['acknowledged']).toBeGreaterThan(100);
    expect(titanicStarts).toBeGreaterThanOrEqual(2);
  }, 60_000);
});
