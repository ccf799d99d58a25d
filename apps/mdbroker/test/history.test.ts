/**
 * Majordomo's delivery guarantees checked over a recorded history (see history-run.ts): a short
 * seeded run where each fault of the nemesis happens once, on real processes. `npm run chaos` runs
 * the long variant (history.chaos.test.ts) with any seed.
 */
import { describe, expect, it } from 'vitest';
import { MAJORDOMO_FAULTS, runMajordomoHistory } from './history-run.js';

describe('mdbroker: history under a seeded nemesis (real processes)', () => {
  it('idempotent requests are answered outside faults; the others reach a worker at most once', async () => {
    const { result } = await runMajordomoHistory({ seed: 31, durationMs: 20_000, first: MAJORDOMO_FAULTS.slice(0, 4) });
    console.info(`majordomo history, seed 31: ${JSON.stringify(result.stats)}`);
    expect(result.stats?.['faults']).toBeGreaterThanOrEqual(4);
    expect(result.stats?.['answered']).toBeGreaterThan(200);
  }, 60_000);
});
